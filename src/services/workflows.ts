import { randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { z } from "zod";
import type { ExecutionListQuery, WorkflowRepository } from "../db/workflows.js";
import { badInput, notFound } from "../domain/errors.js";
import type { JsonObject, JsonValue } from "../domain/json.js";
import { normalizeServiceType } from "../domain/service.js";
import type { Telemetry } from "../domain/telemetry.js";
import type { StepRequest, StepResponse } from "../domain/workflow.js";
import {
  TERMINAL,
  type WorkflowExecution,
  type WorkflowStatus,
  type WorkflowStepState,
  workflowStatuses,
} from "../domain/workflow.js";
import type { Events } from "../events.js";
import { type Clock, systemClock } from "../lib/clock.js";
import { pageSize } from "../lib/page-size.js";
import { parseInput } from "../lib/zod-input.js";
import { builtInDefinitions } from "../workflows/builtins.js";
import { type CompiledDefinition, parseDefinition } from "../workflows/definition.js";
import { createWorkflowRunner } from "../workflows/runner.js";
import { assertJsonWithin, JSON_VALUE_LIMITS } from "./json-input.js";
import { limitText } from "./service-where.js";

export type ExecuteWorkflowInput = {
  id?: string | null;
  workflowType: string;
  data: JsonValue;
  options?: WorkflowOptionsInput | null;
};

export type WorkflowOptionsInput = {
  wait?: boolean | null;
  timeoutSeconds?: number | null;
  idempotencyKey?: string | null;
};

export type WorkflowDefinitionView = {
  type: string;
  version: number;
  description: string;
  definition: JsonObject;
  active: boolean;
};

export type WorkflowsDeps = {
  /** Counts the steps that ended. None when omitted. */
  telemetry?: Pick<Telemetry, "workflowStep">;
  repository: WorkflowRepository;
  events: Events;
  log: Logger;
  call(request: StepRequest): Promise<StepResponse>;
  /** Largest `first` of a list (MAX_PAGE_SIZE). */
  maxPageSize: number;
  /** Executions driven at once by this replica (MAX_CONCURRENT_WORKFLOWS). */
  maxConcurrent?: number;
  /** Deadline of an execution that sets none (WORKFLOW_EXECUTION_TIMEOUT), seconds. */
  executionTimeoutSeconds?: number;
  leaseMs?: number;
  claimIntervalMs?: number;
  /** Definitions (*.json) registered at start-up (WORKFLOW_DEFINITIONS_DIR). */
  definitionsDir?: string | null;
  /** Start times and deadlines of executions, and how long a wait for one lasts. */
  clock?: Clock;
};

/** A definition file that cannot be read or is not a valid definition. */
class DefinitionFileError extends Error {
  constructor(path: string, cause: unknown) {
    super(`${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "DefinitionFileError";
  }
}

/** A definition checked and ready to store: the document as given, its type normalised. */
function checked(raw: JsonValue): { type: string; document: JsonObject } {
  const { type } = parseDefinition(raw).definition;
  return { type, document: { ...(raw as JsonObject), type } };
}

function viewOf(stored: Omit<WorkflowDefinitionView, "description">): WorkflowDefinitionView {
  const description = stored.definition.description;
  return { ...stored, description: typeof description === "string" ? description : "" };
}

/** How long past an execution's deadline a wait lasts: a call in flight may still finish. */
const WAIT_GRACE_SECONDS = 20;

const optionsSchema = z.object({
  wait: z.boolean().nullish(),
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .nullish(),
  idempotencyKey: z.string().trim().min(1).max(200).nullish(),
});

/**
 * Workflows: definitions (built-in and registered, versioned), executions started here
 * and driven by the runner of whichever replica claims them, and their live updates.
 */
export function createWorkflows({
  repository,
  events,
  log,
  call,
  maxPageSize,
  maxConcurrent,
  executionTimeoutSeconds = 3600,
  leaseMs,
  claimIntervalMs,
  definitionsDir = null,
  clock = systemClock,
  telemetry,
}: WorkflowsDeps) {
  const compiled = new Map<string, CompiledDefinition>();

  async function definitionOf(type: string, version: number): Promise<CompiledDefinition> {
    const key = `${type}@${version}`;
    const known = compiled.get(key);
    if (known) return known;
    const row = await repository.definition(type, version);
    if (!row) throw new Error(`definition ${key} is missing`);
    const definition = parseDefinition(row.definition);
    compiled.set(key, definition);
    return definition;
  }

  let seeded = false;
  /**
   * The built-ins become version 1 of their type, unless the type has versions already;
   * then WORKFLOW_DEFINITIONS_DIR's definitions are registered over them.
   */
  async function seedBuiltIns(): Promise<void> {
    if (seeded) return;
    const known = new Set((await repository.activeDefinitions()).map((row) => row.type));
    for (const builtIn of builtInDefinitions) {
      const { type, document } = checked(builtIn);
      if (!known.has(type)) await repository.saveDefinition(type, document);
    }
    if (definitionsDir) await registerFromDirectory(definitionsDir);
    seeded = true;
  }

  async function activeVersion(type: string): Promise<number> {
    await seedBuiltIns();
    const active = await repository.activeDefinitions();
    const found = active.find((row) => row.type === type);
    if (!found) {
      const known = active.map((row) => row.type).join(", ");
      throw badInput("workflowType", `unknown workflow type ${type}; known: ${known}`);
    }
    return found.version;
  }

  const runner = createWorkflowRunner({
    repository,
    definitionOf,
    call,
    changed: (execution) => events.publish("workflow.updated", execution),
    telemetry,
    log,
    maxConcurrent,
    leaseMs,
    claimIntervalMs,
    clock,
  });

  /**
   * Resolves once the execution has ended, or after `seconds`, with it as it is then. It
   * listens before it first reads, and reads again every second besides: an update
   * published in between, or lost (another replica's, over a reconnecting Redis), only
   * costs that second.
   */
  async function waitFor(id: string, seconds: number): Promise<WorkflowExecution> {
    const updates = events
      .subscribe("workflow.updated", (execution) => execution.id === id)
      [Symbol.asyncIterator]();
    let next = updates.next().then(() => "update" as const);
    const until = clock.now() + seconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    try {
      for (;;) {
        const current = await repository.execution(id);
        if (!current || TERMINAL.has(current.status) || clock.now() >= until) {
          return current as WorkflowExecution;
        }
        const woke = await Promise.race([
          next,
          new Promise<"tick">((resolve) => {
            timer = setTimeout(() => resolve("tick"), Math.min(1000, until - clock.now()));
          }),
        ]);
        clearTimeout(timer);
        if (woke === "update") next = updates.next().then(() => "update" as const);
      }
    } finally {
      clearTimeout(timer);
      await updates.return?.();
    }
  }

  /**
   * Registers every *.json definition in a directory. A bad one stops the start-up with
   * its file named: a deployment should not run with a definition it did not mean.
   */
  async function registerFromDirectory(directory: string): Promise<void> {
    const files = (await readdir(directory)).filter((file) => file.endsWith(".json")).sort();
    for (const file of files) {
      const path = join(directory, file);
      let definition: ReturnType<typeof checked>;
      try {
        definition = checked(JSON.parse(await readFile(path, "utf8")) as JsonValue);
      } catch (error) {
        throw new DefinitionFileError(path, error);
      }
      const { type, document } = definition;
      const { version, created } = await repository.saveDefinition(type, document);
      log.info({ file: path, type, version, created }, "workflow definition loaded");
    }
  }

  async function execute(input: ExecuteWorkflowInput): Promise<WorkflowExecution> {
    // Bounded before anything reads it (REST hands it over unchecked by any scalar).
    assertJsonWithin(input.data, "data", JSON_VALUE_LIMITS);
    const type = normalizeServiceType(input.workflowType);
    const version = await activeVersion(type);
    const definition = await definitionOf(type, version);
    const data = input.data;
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      throw badInput("data", "must be a JSON object");
    }
    for (const field of definition.definition.input.required) {
      if (data[field] === undefined || data[field] === null || data[field] === "") {
        throw badInput(`data.${field}`, `is required by ${type}`);
      }
    }
    const options = parseInput(optionsSchema, input.options ?? {}, "options");
    const timeoutSeconds = options.timeoutSeconds ?? executionTimeoutSeconds;
    const now = new Date(clock.now());
    const id = input.id?.trim() || randomUUID();
    // It travels in x-request-id headers to the services the steps call, and is a REST
    // path segment, where "." and ".." would name other paths.
    if (!/^[\w.:-]{1,128}$/.test(id) || id === "." || id === "..") {
      throw badInput("id", "must be 1 to 128 letters, digits, '.', ':', '_' or '-', not . or ..");
    }
    const { execution, created } = await repository.createExecution({
      id,
      workflowType: type,
      definitionVersion: version,
      status: "PENDING",
      data,
      options: Object.fromEntries(
        Object.entries(options).filter(([, value]) => value !== null && value !== undefined),
      ) as JsonObject,
      result: null,
      errors: [],
      idempotencyKey: options.idempotencyKey ?? null,
      startedAt: now.toISOString(),
      finishedAt: null,
      executionTimeMs: null,
      deadlineAt: new Date(now.getTime() + timeoutSeconds * 1000).toISOString(),
      updatedAt: now.toISOString(),
    });
    if (created) {
      events.publish("workflow.updated", execution);
      runner.kick();
    }
    // Past the deadline by the time a call in flight may still take, so a wait as long as
    // the deadline sees the execution ended by it.
    return options.wait ? waitFor(execution.id, timeoutSeconds + WAIT_GRACE_SECONDS) : execution;
  }

  return {
    execute,

    executeAgentTask(
      taskId: string,
      agentId: string,
      parameters: JsonValue | null | undefined,
      options?: WorkflowOptionsInput | null,
    ) {
      return execute({
        workflowType: "AGENT_TASK_EXECUTION",
        data: { task_id: taskId, agent_id: agentId, parameters: parameters ?? {} },
        options,
      });
    },

    executeProjectPlanning(projectId: string, options?: WorkflowOptionsInput | null) {
      return execute({
        workflowType: "PROJECT_PLANNING",
        data: { project_id: projectId },
        options,
      });
    },

    /** Cancels an execution that has not ended; one that has is returned as it is. */
    async cancel(id: string): Promise<WorkflowExecution> {
      const cancelled = await repository.cancel(id);
      if (cancelled) {
        runner.cancelled(id);
        events.publish("workflow.updated", cancelled);
        return cancelled;
      }
      const existing = await repository.execution(id);
      if (!existing) throw notFound(`Workflow execution ${id} does not exist.`);
      return existing;
    },

    get: (id: string) => repository.execution(id),

    list(
      query: Omit<ExecutionListQuery, "workflowType" | "status"> & {
        workflowType?: string | null;
        status?: string | null;
      },
    ) {
      if (query.status && !(workflowStatuses as readonly string[]).includes(query.status)) {
        throw badInput("status", `must be one of ${workflowStatuses.join(", ")}`);
      }
      limitText(query.workflowType, "workflowType");
      limitText(query.after, "after");
      return repository.executions({
        ...query,
        first: pageSize(query.first, { fallback: 50, min: 1, max: maxPageSize }),
        workflowType: query.workflowType ? normalizeServiceType(query.workflowType) : null,
        status: (query.status as WorkflowStatus | null | undefined) ?? null,
      });
    },

    steps: (id: string): Promise<WorkflowStepState[]> => repository.steps(id),

    /** Updates of one execution, for workflowExecutionUpdated. */
    updates(id: string): AsyncIterable<WorkflowExecution> {
      return events.subscribe("workflow.updated", (execution) => execution.id === id);
    },

    /**
     * Updates of every execution, its start included (of one type when given), for
     * workflowExecutionsChanged: a list kept live without reading it again.
     */
    allUpdates({ workflowType }: { workflowType?: string | null } = {}) {
      const type = workflowType ? normalizeServiceType(workflowType) : null;
      return events.subscribe(
        "workflow.updated",
        (execution) => type === null || execution.workflowType === type,
      );
    },

    /** Stores a definition as the next version of its type (checked first). */
    async registerDefinition(raw: JsonValue): Promise<WorkflowDefinitionView> {
      const { type, document } = checked(raw);
      const { version } = await repository.saveDefinition(type, document);
      return viewOf({ type, version, definition: document, active: true });
    },

    async definitions(): Promise<WorkflowDefinitionView[]> {
      await seedBuiltIns();
      return (await repository.activeDefinitions()).map(viewOf);
    },

    /**
     * Stores the built-in definitions, then runs. A database not there yet (or not yet
     * migrated) does not stop the gateway: they are stored on first use instead.
     */
    async start(): Promise<void> {
      await seedBuiltIns().catch((error: unknown) => {
        // A bad definition file stops the start. A database that is away (or not migrated
        // yet) only delays the storing to first use.
        if (error instanceof DefinitionFileError) throw error;
        log.warn({ err: error }, "workflow definitions not stored yet; stored on first use");
      });
      runner.start();
    },

    stop: () => runner.stop(),
  };
}
