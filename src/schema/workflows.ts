import {
  type WorkflowExecution,
  type WorkflowStepState,
  workflowStatuses,
} from "../domain/workflow.js";
import type { WorkflowDefinitionView } from "../services/workflows.js";
import { builder } from "./builder.js";
import { perItem } from "./cost.js";

const WorkflowStatusEnum = builder.enumType("WorkflowStatus", { values: workflowStatuses });

const WorkflowStepRef = builder.objectRef<WorkflowStepState>("WorkflowStep").implement({
  description:
    "One step's state, written before and after it runs. A forEach step has a row per item (`id[index]`), a compensation one of its own (`id.compensate`).",
  fields: (t) => ({
    id: t.exposeString("stepId"),
    name: t.exposeString("name"),
    serviceType: t.exposeString("serviceType", { nullable: true }),
    serviceId: t.exposeID("serviceId", {
      nullable: true,
      description: "The instance that answered the last call.",
    }),
    status: t.expose("status", { type: WorkflowStatusEnum }),
    attempt: t.exposeInt("attempt"),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    durationMs: t.exposeFloat("durationMs", { nullable: true }),
    output: t.expose("output", { type: "JSON", nullable: true }),
    error: t.exposeString("error", { nullable: true }),
    calls: t.field({
      type: "JSON",
      description:
        "The step's latest calls: serviceId, status, attempts, instancesTried (in order, the answering one last), durationMs, at, error.",
      resolve: (step) => step.calls,
    }),
  }),
});

const WorkflowExecutionRef = builder.objectRef<WorkflowExecution>("WorkflowExecution").implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    workflowType: t.exposeString("workflowType"),
    definitionVersion: t.exposeInt("definitionVersion"),
    status: t.expose("status", { type: WorkflowStatusEnum }),
    data: t.expose("data", { type: "JSON" }),
    options: t.expose("options", { type: "JSON" }),
    result: t.expose("result", { type: "JSON", nullable: true }),
    errors: t.exposeStringList("errors"),
    startedAt: t.expose("startedAt", { type: "DateTime" }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    executionTimeMs: t.exposeFloat("executionTimeMs", { nullable: true }),
    deadlineAt: t.expose("deadlineAt", { type: "DateTime", nullable: true }),
    steps: t.field({
      type: [WorkflowStepRef],
      resolve: (execution, _args, ctx) => ctx.services.workflows.steps(execution.id),
    }),
  }),
});

const WorkflowDefinitionRef = builder
  .objectRef<WorkflowDefinitionView>("WorkflowDefinition")
  .implement({
    fields: (t) => ({
      type: t.exposeString("type"),
      version: t.exposeInt("version"),
      description: t.exposeString("description"),
      active: t.exposeBoolean("active"),
      definition: t.expose("definition", { type: "JSON" }),
    }),
  });

const WorkflowOptions = builder.inputType("WorkflowOptions", {
  fields: (t) => ({
    wait: t.boolean({
      defaultValue: false,
      description: "Answer when the execution has ended (at most timeoutSeconds).",
    }),
    timeoutSeconds: t.int({ description: "Deadline; WORKFLOW_EXECUTION_TIMEOUT by default." }),
    idempotencyKey: t.string({ description: "Asked again, the same execution is returned." }),
  }),
});

const ExecuteWorkflowInput = builder.inputType("ExecuteWorkflowInput", {
  fields: (t) => ({
    id: t.id({ description: "Optional; a UUID is generated when absent." }),
    workflowType: t.string({ required: true }),
    data: t.field({ type: "JSON", required: true, description: "The workflow's input." }),
    options: t.field({ type: WorkflowOptions }),
  }),
});

builder.queryFields((t) => ({
  workflowExecution: t.field({
    type: WorkflowExecutionRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.workflows.get(String(id)),
  }),
  workflowExecutions: t.field({
    type: [WorkflowExecutionRef],
    description: "Newest first; `after` is the id of the last one of the previous page.",
    args: {
      workflowType: t.arg.string(),
      status: t.arg({ type: WorkflowStatusEnum }),
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string(),
    },
    complexity: ({ first }) => perItem(first, 50),
    resolve: (_root, args, ctx) =>
      ctx.services.workflows.list({ ...args, first: args.first ?? 50 }),
  }),
  workflowDefinitions: t.field({
    type: [WorkflowDefinitionRef],
    description: "The active version of every workflow type.",
    resolve: (_root, _args, ctx) => ctx.services.workflows.definitions(),
  }),
}));

builder.mutationFields((t) => ({
  executeWorkflow: t.field({
    type: WorkflowExecutionRef,
    authScopes: { executeWorkflows: true },
    description: "Starts an execution; it runs in the background unless options.wait.",
    args: { input: t.arg({ type: ExecuteWorkflowInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.workflows.execute({
        ...input,
        id: input.id == null ? null : String(input.id),
        data: input.data ?? null,
      }),
  }),
  executeAgentTask: t.field({
    type: WorkflowExecutionRef,
    authScopes: { executeWorkflows: true },
    args: {
      taskId: t.arg.id({ required: true }),
      agentId: t.arg.id({ required: true }),
      parameters: t.arg({ type: "JSON" }),
      options: t.arg({ type: WorkflowOptions }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.workflows.executeAgentTask(
        String(args.taskId),
        String(args.agentId),
        args.parameters,
        args.options,
      ),
  }),
  executeProjectPlanning: t.field({
    type: WorkflowExecutionRef,
    authScopes: { executeWorkflows: true },
    args: {
      projectId: t.arg.id({ required: true }),
      options: t.arg({ type: WorkflowOptions }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.workflows.executeProjectPlanning(String(args.projectId), args.options),
  }),
  cancelWorkflow: t.field({
    type: WorkflowExecutionRef,
    authScopes: { cancelWorkflows: true },
    description: "Stops an execution that has not ended (no compensation runs).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.workflows.cancel(String(id)),
  }),
  registerWorkflowDefinition: t.field({
    type: WorkflowDefinitionRef,
    authScopes: { defineWorkflows: true },
    description:
      "Stores a definition as the next version of its type (admin: its steps call any path).",
    args: { definition: t.arg({ type: "JSON", required: true }) },
    resolve: (_root, { definition }, ctx) =>
      ctx.services.workflows.registerDefinition(definition ?? null),
  }),
}));

builder.subscriptionFields((t) => ({
  workflowExecutionUpdated: t.field({
    type: WorkflowExecutionRef,
    description: "The execution after every change of it or of one of its steps.",
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, { id }, ctx) => ctx.services.workflows.updates(String(id)),
    resolve: (execution) => execution,
  }),
  workflowExecutionsChanged: t.field({
    type: WorkflowExecutionRef,
    description:
      "Every execution after every change of it or of one of its steps, its start included, on any replica; narrowed to one workflow type.",
    args: { workflowType: t.arg.string() },
    subscribe: (_root, { workflowType }, ctx) =>
      ctx.services.workflows.allUpdates({ workflowType }),
    resolve: (execution) => execution,
  }),
}));
