import { randomUUID } from "node:crypto";
import { ExponentialBackoff, handleWhen, noJitterGenerator, retry } from "cockatiel";
import type { Logger } from "pino";
import type { WorkflowRepository } from "../db/workflows.js";
import { isGatewayError } from "../domain/errors.js";
import { noTelemetry, type Telemetry } from "../domain/telemetry.js";
import { TERMINAL, type WorkflowExecution, type WorkflowStepState } from "../domain/workflow.js";
import { type Clock, systemClock } from "../lib/clock.js";
import { every } from "../lib/interval-loop.js";
import type { CompiledDefinition } from "./definition.js";
import { runExecution } from "./engine.js";
import type { EngineDeps, ExecutionEnd } from "./execution-state.js";

export type RunnerDeps = {
  repository: WorkflowRepository;
  /** The compiled definition an execution was started with. */
  definitionOf(type: string, version: number): Promise<CompiledDefinition>;
  call: EngineDeps["call"];
  /** Told of every change of an execution or one of its steps. */
  changed(execution: WorkflowExecution): void;
  /** Counts each step that ended, by status, once its state is written. None when omitted. */
  telemetry?: Pick<Telemetry, "workflowStep">;
  log: Logger;
  /** Executions this replica drives at once; more wait in the table. Default 10. */
  maxConcurrent?: number;
  /** How long a claim lasts without renewal; another replica resumes after it. Default 30 s. */
  leaseMs?: number;
  /** How often the table is looked at for work nobody drives. Default 1,000 ms. */
  claimIntervalMs?: number;
  /** Deadlines, step times and update stamps; the engine's `now`. */
  clock?: Clock;
};

/** How long a stopping replica waits for calls in flight to finish (under its lease). */
const SHUTDOWN_GRACE_MS = 5000;

class Stopped extends Error {
  constructor(
    readonly why: "lease lost" | "cancelled" | "shutdown" | "deadline" | "database unavailable",
  ) {
    super(`execution stopped: ${why}`);
  }
}

/**
 * Drives executions on this replica: claims those nobody drives (new ones, and those whose
 * driver's lease ran out: it died), at most `maxConcurrent` at once, renews its leases,
 * and ends each execution once. Every replica runs one; the table's row locks (FOR UPDATE
 * SKIP LOCKED) keep two from taking the same execution.
 */
export function createWorkflowRunner({
  repository,
  definitionOf,
  call,
  changed,
  telemetry = noTelemetry,
  log,
  maxConcurrent = 10,
  leaseMs = 30_000,
  claimIntervalMs = 1000,
  clock = systemClock,
}: RunnerDeps) {
  const owner = randomUUID();
  const active = new Map<string, { controller: AbortController; done: Promise<void> }>();
  /** Executions left at shutdown, whose leases are given back at once. */
  const released = new Set<string>();
  let claiming: Promise<void> | null = null;
  let again = false;
  let stopped = true;
  let stopping: Promise<void> | null = null;
  let failing = false;

  async function claim(): Promise<void> {
    const free = maxConcurrent - active.size;
    if (free <= 0 || stopped) return;
    for (const overdue of await repository.failOverdue()) changed(overdue);
    const claimed = await repository.claim(owner, leaseMs, free);
    for (const execution of claimed) drive(execution);
  }

  /** Looks for work now (a new execution, a slot freed), one look at a time. */
  function kick(): void {
    if (stopped) return;
    if (claiming) {
      again = true;
      return;
    }
    claiming = claim()
      .then(() => {
        if (failing) log.info("workflow runner reaches the database again");
        failing = false;
      })
      .catch((error: unknown) => {
        if (!failing) log.warn({ err: error }, "workflow runner cannot claim executions");
        failing = true;
      })
      .finally(() => {
        claiming = null;
        if (again) {
          again = false;
          kick();
        }
      });
  }

  function drive(execution: WorkflowExecution): void {
    const controller = new AbortController();
    const done = run(execution, controller).finally(() => {
      active.delete(execution.id);
      kick();
    });
    active.set(execution.id, { controller, done });
  }

  async function run(execution: WorkflowExecution, controller: AbortController): Promise<void> {
    const started = { ...execution, status: "RUNNING" as const };
    changed(started);
    const deadline = execution.deadlineAt
      ? setTimeout(
          () => controller.abort(new Stopped("deadline")),
          Math.max(0, Date.parse(execution.deadlineAt) - clock.now()),
        )
      : null;
    try {
      const [compiled, recorded] = await Promise.all([
        definitionOf(execution.workflowType, execution.definitionVersion),
        repository.steps(execution.id),
      ]);
      // While the lease is ours, what a step did is written even as the run stops (a
      // shutdown, the deadline): otherwise the next driver would do it again.
      const save = async (step: WorkflowStepState) => {
        const why = controller.signal.aborted ? (controller.signal.reason as Stopped).why : null;
        if (why === "lease lost" || why === "cancelled" || why === "database unavailable") {
          throw controller.signal.reason;
        }
        let held: boolean;
        try {
          held = await repository.saveStep(owner, step);
        } catch (error) {
          if (!(isGatewayError(error) && error.code === "SERVICE_UNAVAILABLE")) throw error;
          // An outage is not the step's failure: the run stops, the lease lapses, and
          // whoever drives it next (this replica included) resumes once the database is back.
          log.warn({ err: error, executionId: execution.id }, "step state not written");
          controller.abort(new Stopped("database unavailable"));
          throw controller.signal.reason;
        }
        if (!held) {
          controller.abort(new Stopped("lease lost"));
          throw controller.signal.reason;
        }
        if (TERMINAL.has(step.status)) {
          const seconds = step.durationMs === null ? null : step.durationMs / 1000;
          telemetry.workflowStep(execution.workflowType, step.status, seconds);
        }
        changed({ ...started, updatedAt: new Date(clock.now()).toISOString() });
      };
      const end = await runExecution(
        execution,
        compiled,
        recorded,
        { call, save, clock },
        controller.signal,
      );
      const finished = await finishWithRetries(execution.id, end);
      if (finished) changed(finished);
    } catch (error) {
      const reason = controller.signal.aborted ? controller.signal.reason : error;
      if (reason instanceof Stopped && reason.why !== "deadline") {
        log.info({ executionId: execution.id, why: reason.why }, "workflow execution left");
        if (reason.why === "shutdown") released.add(execution.id);
        return;
      }
      if (isGatewayError(reason) && reason.code === "SERVICE_UNAVAILABLE") {
        // The database is away: the lease lapses and the execution is resumed later.
        log.warn({ err: reason, executionId: execution.id }, "workflow execution left");
        return;
      }
      const message =
        reason instanceof Stopped
          ? `execution timed out at ${execution.deadlineAt}`
          : `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
      if (!(reason instanceof Stopped)) {
        log.error({ err: error, executionId: execution.id }, "workflow execution failed");
      }
      const finished = await repository
        .finish(owner, execution.id, { status: "FAILED", result: null, errors: [message] })
        .catch((finishError: unknown) => {
          log.error({ err: finishError, executionId: execution.id }, "could not end execution");
          return null;
        });
      if (finished) changed(finished);
    } finally {
      if (deadline) clearTimeout(deadline);
    }
  }

  /**
   * Ends an execution, trying again through a short database outage (five tries, 0.4, 0.8,
   * 1.6 and 3.2 s apart, none once the runner stops); if it stays away the lease lapses
   * and the next driver finds every step done and ends it then.
   */
  const finishRetry = retry(
    handleWhen(() => !stopped),
    {
      // cockatiel counts the tries after the first.
      maxAttempts: 4,
      backoff: new ExponentialBackoff({ initialDelay: 400, generator: noJitterGenerator }),
    },
  );
  const finishWithRetries = (id: string, end: ExecutionEnd) =>
    finishRetry.execute(() => repository.finish(owner, id, end));

  async function renew(): Promise<void> {
    const lost = await repository.renew(owner, [...active.keys()], leaseMs);
    for (const id of lost) active.get(id)?.controller.abort(new Stopped("lease lost"));
  }

  // kick() logs its own failures and never overlaps itself; the loop only wakes it.
  const claimLoop = every(claimIntervalMs, async () => kick(), { log, name: "workflow claims" });
  const renewLoop = every(leaseMs / 3, renew, { log, name: "workflow lease renewal" });

  /**
   * Lets go of every execution: they stop where they are and their leases are given
   * back, so another replica (or this one, restarted) resumes them at once.
   */
  async function handOver(): Promise<void> {
    stopped = true;
    await claimLoop.stop();
    await claiming;
    for (const { controller } of active.values()) controller.abort(new Stopped("shutdown"));
    // Runs stop at their next wait; a call in flight is let finish so that what it did
    // is written. The leases are still renewed meanwhile, so nobody else starts the
    // same call; past the grace, this replica goes, and its leases lapse by themselves.
    const settled = Promise.all([...active.values()].map(({ done }) => done));
    let grace: NodeJS.Timeout | undefined;
    const outlasted = await Promise.race([
      settled.then(() => false),
      new Promise<boolean>((resolve) => {
        grace = setTimeout(() => resolve(true), Math.min(leaseMs / 2, SHUTDOWN_GRACE_MS));
      }),
    ]);
    clearTimeout(grace);
    await renewLoop.stop();
    if (outlasted) {
      log.warn(
        { running: active.size },
        "workflow runs still in flight at shutdown; leases left to lapse",
      );
      return;
    }
    await repository.release(owner, [...released]).catch(() => {});
  }

  return {
    kick,

    /** Stops driving an execution cancelled elsewhere. */
    cancelled(id: string): void {
      active.get(id)?.controller.abort(new Stopped("cancelled"));
    },

    start(): void {
      stopped = false;
      stopping = null;
      claimLoop.start();
      renewLoop.start();
      kick();
    },

    /**
     * Lets go of every execution: they stop where they are and their leases are given
     * back, so another replica (or this one, restarted) resumes them at once.
     */
    stop(): Promise<void> {
      // Once: the gateway begins handing executions over at the signal, and stops the
      // rest of its services (this among them) after the connections drained.
      stopping ??= handOver();
      return stopping;
    },
  };
}
