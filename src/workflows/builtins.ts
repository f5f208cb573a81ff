import type { JsonObject } from "../domain/json.js";

/**
 * The two workflows of the original service, as definitions.
 * They are stored as version 1 of their type at start-up; registering a new version
 * (other paths, another poll interval) replaces them. They accept what the services of
 * this system really answer, which is not always what the original expected:
 * `{success, data}` envelopes are unwrapped by the engine, an execution id may come as
 * `execution_id` or `id`, and an execution's state as `status` or `state`.
 */

const TERMINAL_EXECUTION_STATES = ["COMPLETED", "FAILED", "CANCELLED", "CANCELED", "TIMEOUT"];

export const agentTaskExecution: JsonObject = {
  type: "AGENT_TASK_EXECUTION",
  description:
    "Gets an execution plan for a task from the planning system, starts it on the agent orchestrator, and waits for it to end.",
  input: { required: ["task_id", "agent_id"] },
  steps: [
    {
      id: "plan",
      name: "Get the execution plan",
      serviceType: "PLANNING_SYSTEM",
      method: "POST",
      path: "/plans/execution-plan",
      body: {
        task_id: "{{input.task_id}}",
        agent_id: "{{input.agent_id}}",
        parameters: "{{ $exists(input.parameters) ? input.parameters : {} }}",
      },
      retry: { maxAttempts: 3, backoffMs: 1000 },
      output: "{{ $exists(response.plan) ? response.plan : response }}",
    },
    {
      id: "start",
      name: "Start the execution",
      serviceType: "AGENT_ORCHESTRATOR",
      method: "POST",
      path: "/executions",
      dependsOn: ["plan"],
      body: {
        agent_id: "{{input.agent_id}}",
        task_id: "{{input.task_id}}",
        execution_plan: "{{steps.plan.output}}",
        parameters: "{{ $exists(input.parameters) ? input.parameters : {} }}",
      },
      output: {
        execution_id: "{{ $exists(response.execution_id) ? response.execution_id : response.id }}",
      },
    },
    {
      id: "monitor",
      name: "Wait for the execution to end",
      serviceType: "AGENT_ORCHESTRATOR",
      method: "GET",
      path: "/executions/{{steps.start.output.execution_id}}",
      dependsOn: ["start"],
      poll: {
        intervalMs: 2000,
        until: "{{ $uppercase($exists(response.status) ? response.status : response.state) }}",
        in: TERMINAL_EXECUTION_STATES,
        failOn: ["FAILED", "CANCELLED", "CANCELED", "TIMEOUT"],
        timeoutSeconds: 3600,
      },
    },
  ],
  output: {
    execution_id: "{{steps.start.output.execution_id}}",
    task_id: "{{input.task_id}}",
    agent_id: "{{input.agent_id}}",
    status:
      "{{ $uppercase($exists(steps.monitor.output.status) ? steps.monitor.output.status : steps.monitor.output.state) }}",
    result: "{{steps.monitor.output.result}}",
    steps: "{{ $exists(steps.monitor.output.steps) ? steps.monitor.output.steps : [] }}",
    metrics: "{{ $exists(steps.monitor.output.metrics) ? steps.monitor.output.metrics : {} }}",
  },
};

/** Distinct `required_agent_type`s of the tactical plan's tasks, in first-seen order. */
const AGENT_TYPES =
  "$distinct(steps.tactical.output.tasks[$exists(required_agent_type)].required_agent_type)";

const projectPlanning: JsonObject = {
  type: "PROJECT_PLANNING",
  description:
    "Reads a project, has a strategic then a tactical plan made, creates one agent per agent type the plan needs (deleted again if a later step fails), assigns the tasks and stores the planning on the project.",
  input: { required: ["project_id"] },
  steps: [
    {
      id: "project",
      name: "Read the project",
      serviceType: "PROJECT_COORDINATOR",
      method: "GET",
      path: "/projects/{{input.project_id}}",
      retry: { maxAttempts: 3, backoffMs: 1000 },
    },
    {
      id: "strategic",
      name: "Make the strategic plan",
      serviceType: "PLANNING_SYSTEM",
      method: "POST",
      path: "/plans/strategic",
      dependsOn: ["project"],
      body: {
        project_id: "{{steps.project.output.id}}",
        project_details: "{{steps.project.output}}",
        options: {
          include_resource_allocation: true,
          include_timeline: true,
          optimization_target: "balanced",
        },
      },
      output: "{{ $exists(response.plan) ? response.plan : response }}",
    },
    {
      id: "tactical",
      name: "Make the tactical plan",
      serviceType: "PLANNING_SYSTEM",
      method: "POST",
      path: "/plans/tactical",
      dependsOn: ["strategic"],
      body: {
        project_id: "{{input.project_id}}",
        strategic_plan: "{{steps.strategic.output}}",
        options: {
          detail_level: "high",
          include_dependencies: true,
          include_resource_requirements: true,
        },
      },
      output: "{{ $exists(response.plan) ? response.plan : response }}",
    },
    {
      id: "agents",
      name: "Create an agent per agent type",
      serviceType: "AGENT_ORCHESTRATOR",
      method: "POST",
      path: "/agents",
      dependsOn: ["project", "tactical"],
      forEach: { items: `{{ [${AGENT_TYPES}] }}`, concurrency: 4 },
      body: {
        project_id: "{{input.project_id}}",
        name: "{{ $uppercase($substring(item, 0, 1)) & $lowercase($substring(item, 1)) }} Agent for {{steps.project.output.name}}",
        type: "{{ $uppercase(item) }}",
        configuration: {
          project_context: "{{steps.project.output.description}}",
          specialization: "{{item}}",
        },
      },
      output: "{{ $merge([response, { 'agent_type': item }]) }}",
      compensate: { method: "DELETE", path: "/agents/{{output.id}}" },
    },
    {
      id: "assign",
      name: "Assign the tasks",
      dependsOn: ["tactical", "agents"],
      // Round-robin over the agents created for each task's type (one per type).
      output: `{{ (
        $agents := steps.agents.output[];
        [steps.tactical.output.tasks[$exists(required_agent_type)]#$i.(
          $task := $;
          $pool := $agents[agent_type = $task.required_agent_type][];
          $count($pool) > 0 ? {
            'task_id': $task.id,
            'agent_id': $pool[$i % $count($pool)].id,
            'assigned_at': $now(),
            'status': 'ASSIGNED'
          }
        )]
      ) }}`,
    },
    {
      id: "store",
      name: "Store the planning on the project",
      serviceType: "PROJECT_COORDINATOR",
      method: "PUT",
      path: "/projects/{{input.project_id}}/planning",
      dependsOn: ["strategic", "tactical", "agents", "assign"],
      body: {
        strategic_plan: "{{steps.strategic.output}}",
        tactical_plan: "{{steps.tactical.output}}",
        agents: "{{steps.agents.output[]}}",
        task_assignments: "{{steps.assign.output[]}}",
      },
    },
  ],
  output: {
    project_id: "{{input.project_id}}",
    strategic_plan: "{{steps.strategic.output}}",
    tactical_plan: "{{steps.tactical.output}}",
    agents: "{{steps.agents.output[]}}",
    task_assignments: "{{steps.assign.output[]}}",
  },
};

export const builtInDefinitions: readonly JsonObject[] = [agentTaskExecution, projectPlanning];
