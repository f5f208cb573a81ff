import { randomUUID } from "node:crypto";
import { type DemoService, HEARTBEATS } from "./demo-service.js";
import { type JsonAnswer, startJsonService } from "./json-service.js";

// The three services the built-in workflows call (src/workflows/builtins.ts), answering
// the paths and shapes those definitions read.

const notFound = (method: string, path: string): JsonAnswer => ({
  status: 404,
  body: { detail: `no route ${method} ${path}` },
});

/** PLANNING_SYSTEM: execution, strategic and tactical plans. */
export async function startPlanningSystem(): Promise<DemoService> {
  const service = await startJsonService(({ method, path, body }) => {
    if (method !== "POST") return notFound(method, path);
    if (path === "/plans/execution-plan") {
      const steps = [{ name: "read the task" }, { name: "do it" }, { name: "report" }];
      return {
        status: 200,
        body: { plan: { task_id: body.task_id, agent_id: body.agent_id, steps } },
      };
    }
    if (path === "/plans/strategic") {
      const goals = ["land", "return safely"];
      return { status: 200, body: { plan: { id: `sp-${body.project_id}`, goals } } };
    }
    if (path === "/plans/tactical") {
      const tasks = [
        { id: "t1", title: "Design the lander", required_agent_type: "designer" },
        { id: "t2", title: "Build the lander", required_agent_type: "developer" },
        { id: "t3", title: "Test the lander", required_agent_type: "developer" },
        { id: "t4", title: "Write the press release" },
      ];
      return { status: 200, body: { plan: { id: `tp-${body.project_id}`, tasks } } };
    }
    return notFound(method, path);
  });
  return {
    registration: {
      id: "planner-1",
      name: "Planning System",
      type: "planning_system",
      version: "1.4.2",
      baseUrl: service.baseUrl,
      endpoints: [
        {
          path: "/plans/execution-plan",
          method: "POST",
          description: "an execution plan for a task",
        },
        { path: "/plans/strategic", method: "POST", description: "a project's strategic plan" },
        { path: "/plans/tactical", method: "POST", description: "a project's tactical plan" },
      ],
      capabilities: ["planning"],
      tags: ["eu", "primary"],
      metadata: { region: "eu-west-1", weight: 3 },
      ...HEARTBEATS,
    },
    close: service.close,
  };
}

/** An execution runs this long, then reports COMPLETED with a result. */
const EXECUTION_MS = 3000;

/** AGENT_ORCHESTRATOR: executions that run for a few seconds, and agents. */
export async function startAgentOrchestrator(): Promise<DemoService> {
  const executions = new Map<string, { startedAt: number; task_id: unknown }>();
  const agents = new Map<string, Record<string, unknown>>();
  const service = await startJsonService(({ method, path, body }) => {
    if (method === "POST" && path === "/executions") {
      const id = `exec-${randomUUID().slice(0, 8)}`;
      executions.set(id, { startedAt: Date.now(), task_id: body.task_id });
      // The real orchestrator's envelope, which the engine unwraps.
      return { status: 200, body: { success: true, data: { execution_id: id } } };
    }
    const execution = /^\/executions\/([^/]+)$/.exec(path);
    if (method === "GET" && execution) {
      const id = execution[1] as string;
      const found = executions.get(id);
      if (!found) return notFound(method, path);
      const elapsedMs = Date.now() - found.startedAt;
      const done = elapsedMs >= EXECUTION_MS;
      return {
        status: 200,
        body: {
          id,
          state: done ? "COMPLETED" : "RUNNING",
          result: done ? { summary: `task ${String(found.task_id)} done` } : null,
          metrics: { elapsedMs },
        },
      };
    }
    if (method === "GET" && path === "/agents") return { status: 200, body: [...agents.values()] };
    if (method === "POST" && path === "/agents") {
      const agent = { id: `agent-${randomUUID().slice(0, 8)}`, name: body.name, type: body.type };
      agents.set(agent.id, agent);
      return { status: 201, body: agent };
    }
    const agent = /^\/agents\/([^/]+)$/.exec(path);
    if (method === "DELETE" && agent) {
      agents.delete(agent[1] as string);
      return { status: 204 };
    }
    return notFound(method, path);
  });
  return {
    registration: {
      id: "orchestrator-1",
      name: "Agent Orchestrator",
      type: "agent_orchestrator",
      version: "2.0.1",
      baseUrl: service.baseUrl,
      endpoints: [
        { path: "/executions", method: "POST", description: "start an execution" },
        { path: "/executions/{id}", method: "GET", description: "an execution's state" },
        { path: "/agents", method: "GET", description: "the agents" },
        { path: "/agents", method: "POST", description: "create an agent" },
        { path: "/agents/{id}", method: "DELETE", description: "delete an agent" },
      ],
      capabilities: ["agents", "executions"],
      tags: ["eu"],
      metadata: { region: "eu-west-1" },
      ...HEARTBEATS,
    },
    close: service.close,
  };
}

const PROJECTS: Record<string, { name: string; description: string }> = {
  apollo: { name: "Apollo", description: "Land on the moon" },
  gemini: { name: "Gemini", description: "Rehearse in orbit" },
};

/** PROJECT_COORDINATOR: two projects, and where their planning is stored. */
export async function startProjectCoordinator(): Promise<DemoService> {
  const plannings = new Map<string, unknown>();
  const service = await startJsonService(({ method, path, body }) => {
    if (method === "GET" && path === "/projects") {
      return { status: 200, body: Object.entries(PROJECTS).map(([id, p]) => ({ id, ...p })) };
    }
    const project = /^\/projects\/([^/]+)$/.exec(path);
    const found = project ? PROJECTS[project[1] as string] : undefined;
    if (method === "GET" && project && found) {
      const id = project[1] as string;
      const status = plannings.has(id) ? "PLANNED" : "DRAFT";
      return { status: 200, body: { id, ...found, status } };
    }
    const planning = /^\/projects\/([^/]+)\/planning$/.exec(path);
    if (method === "PUT" && planning && PROJECTS[planning[1] as string]) {
      plannings.set(planning[1] as string, body);
      return { status: 200, body: { ok: true } };
    }
    return notFound(method, path);
  });
  return {
    registration: {
      id: "coordinator-1",
      name: "Project Coordinator",
      type: "project_coordinator",
      version: "0.9.0",
      baseUrl: service.baseUrl,
      endpoints: [
        { path: "/projects", method: "GET", description: "the projects" },
        { path: "/projects/{id}", method: "GET", description: "one project" },
        { path: "/projects/{id}/planning", method: "PUT", description: "store a planning" },
      ],
      capabilities: ["projects"],
      tags: ["us"],
      metadata: { region: "us-east-1" },
      ...HEARTBEATS,
    },
    close: service.close,
  };
}
