import { describe, expect, it } from "vitest";
import {
  CircuitOpenError,
  InstanceBreaker,
  type Permit,
} from "../../src/clients/circuit-breaker.js";
import type { BreakerTransition } from "../../src/domain/breaker.js";

/** A breaker on a clock the test moves, with a trial lease the test grants or refuses. */
function breakerOnFakeClock({ leaseGranted = true } = {}) {
  const clock = { now: 1_000_000 };
  const transitions: BreakerTransition[] = [];
  const lease: { granted: boolean; asked: number; answer: Promise<void> } = {
    granted: leaseGranted,
    asked: 0,
    /** The lease store answers once this settles (a test may hold it back). */
    answer: Promise.resolve(),
  };
  const breaker = new InstanceBreaker(
    "svc-1",
    { failureThreshold: 3, resetTimeoutMs: 10_000, halfOpenMaxCalls: 2 },
    {
      now: () => clock.now,
      trialLeaseMs: 10_000,
      acquireTrial: async () => {
        lease.asked += 1;
        await lease.answer;
        return lease.granted;
      },
      changed: (transition) => transitions.push(transition),
    },
  );
  const admit = async (): Promise<Permit> => await breaker.admit();
  const fail = async (times = 1) => {
    for (let i = 0; i < times; i++) breaker.failed(await admit(), "HTTP 503");
  };
  return { breaker, clock, transitions, lease, admit, fail };
}

describe("instance circuit breaker", () => {
  it("opens after failureThreshold consecutive failures, not after interleaved ones", async () => {
    const { breaker, admit, fail, transitions } = breakerOnFakeClock();
    await fail(2);
    breaker.succeeded(await admit());
    await fail(2);
    expect(breaker.state).toBe("CLOSED");
    expect(breaker.snapshot()).toMatchObject({ failureCount: 4, consecutiveFailures: 2 });

    await fail(1);
    expect(breaker.state).toBe("OPEN");
    expect(transitions).toEqual([
      expect.objectContaining({
        previousState: "CLOSED",
        state: "OPEN",
        reason: "3 consecutive failures; last: HTTP 503",
      }),
    ]);
  });

  it("refuses every call while open, saying when trials start", async () => {
    const { breaker, clock, fail } = breakerOnFakeClock();
    await fail(3);
    clock.now += 4000;
    let refusal: unknown;
    try {
      breaker.admit();
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(CircuitOpenError);
    expect(refusal).toMatchObject({ state: "OPEN", retryAfterMs: 6000 });
    expect(breaker.isCallable()).toBe(false);
  });

  it("lets halfOpenMaxCalls trial calls through after the reset timeout and closes when they succeed", async () => {
    const { breaker, clock, fail, admit, transitions, lease } = breakerOnFakeClock();
    await fail(3);
    clock.now += 10_000;
    expect(breaker.isCallable()).toBe(true);

    const first = await admit();
    const second = await admit();
    expect(breaker.state).toBe("HALF_OPEN");
    // Asked for the first trial call, renewed with the second.
    expect(lease.asked).toBe(2);
    // Both trial slots are taken: a third call is refused, not sent.
    expect(() => breaker.admit()).toThrow(CircuitOpenError);

    breaker.succeeded(first);
    expect(breaker.state).toBe("HALF_OPEN");
    breaker.succeeded(second);
    expect(breaker.state).toBe("CLOSED");
    expect(breaker.snapshot()).toMatchObject({ failureCount: 0, consecutiveFailures: 0 });
    expect(transitions.map((t) => t.state)).toEqual(["OPEN", "HALF_OPEN", "CLOSED"]);
  });

  it("opens again when a trial call fails, and waits a full reset timeout", async () => {
    const { breaker, clock, fail, admit } = breakerOnFakeClock();
    await fail(3);
    clock.now += 10_000;
    const trial = await admit();
    breaker.failed(trial, "timeout");
    expect(breaker.state).toBe("OPEN");
    expect(breaker.snapshot().lastStateChangeAt).toBe(new Date(clock.now).toISOString());
    clock.now += 9_999;
    expect(() => breaker.admit()).toThrow(CircuitOpenError);
  });

  it("gives a cancelled trial call's slot back, so it never sticks half-open", async () => {
    const { breaker, clock, fail, admit } = breakerOnFakeClock();
    await fail(3);
    clock.now += 10_000;
    const a = await admit();
    await admit();
    breaker.released(a);
    await expect(admit()).resolves.toMatchObject({ trial: true });
  });

  it("refuses trial calls when another replica holds the trial lease", async () => {
    const { breaker, clock, fail, lease } = breakerOnFakeClock({ leaseGranted: false });
    await fail(3);
    clock.now += 10_000;
    await expect(breaker.admit()).rejects.toBeInstanceOf(CircuitOpenError);
    // Asked once; the next calls are refused locally instead of asking again at once.
    expect(() => breaker.admit()).toThrow(CircuitOpenError);
    expect(lease.asked).toBe(1);
    expect(breaker.state).toBe("OPEN");
  });

  it("ignores the outcome of calls let through before a transition", async () => {
    const { breaker, admit, fail } = breakerOnFakeClock();
    const before = await admit();
    await fail(3);
    breaker.reset("reset by an operator");
    breaker.failed(before, "late failure");
    expect(breaker.snapshot()).toMatchObject({ state: "CLOSED", consecutiveFailures: 0 });
  });

  it("stays isolated, whatever succeeds, until reset", async () => {
    const { breaker, admit, transitions } = breakerOnFakeClock();
    const before = await admit();
    breaker.isolate("isolated by an operator");
    breaker.succeeded(before);
    expect(breaker.state).toBe("ISOLATED");
    expect(() => breaker.admit()).toThrow(/isolated/);
    expect(breaker.isCallable()).toBe(false);
    breaker.reset("reset by an operator");
    await expect(admit()).resolves.toMatchObject({ trial: false });
    expect(transitions.map((t) => [t.previousState, t.state])).toEqual([
      ["CLOSED", "ISOLATED"],
      ["ISOLATED", "CLOSED"],
    ]);
  });

  it("adopts a newer state from another replica and ignores an older one", async () => {
    const { breaker, clock, fail } = breakerOnFakeClock();
    const remote = {
      ...breaker.snapshot(),
      state: "OPEN" as const,
      failureCount: 7,
      consecutiveFailures: 7,
      lastStateChangeAt: new Date(clock.now + 5).toISOString(),
    };
    expect(breaker.adopt({ breaker: remote, byOperator: false })).toBe(true);
    expect(breaker.snapshot()).toMatchObject({ state: "OPEN", failureCount: 7 });

    clock.now += 20_000;
    breaker.reset("reset by an operator");
    expect(breaker.adopt({ breaker: remote, byOperator: false })).toBe(false);
    expect(breaker.state).toBe("CLOSED");
    await fail(1);
    expect(breaker.state).toBe("CLOSED");
  });

  it("orders operator actions among themselves, so the last reset or isolate wins everywhere", async () => {
    const { breaker, clock } = breakerOnFakeClock();
    breaker.isolate("isolated by an operator");
    const at = (ms: number) => new Date(clock.now + ms).toISOString();
    const remote = (state: "CLOSED" | "OPEN" | "ISOLATED", ms: number) => ({
      ...breaker.snapshot(),
      state,
      lastStateChangeAt: at(ms),
    });
    // A trial closing, or failures opening it, on a replica that had not heard of the
    // isolation: newer by the clock, and still ignored.
    expect(breaker.adopt({ breaker: remote("CLOSED", 50), byOperator: false })).toBe(false);
    expect(breaker.adopt({ breaker: remote("OPEN", 60), byOperator: false })).toBe(false);
    expect(breaker.state).toBe("ISOLATED");
    // A reset made on a replica that had not heard of the isolation either, just after it.
    expect(breaker.adopt({ breaker: remote("CLOSED", 70), byOperator: true })).toBe(true);
    expect(breaker.state).toBe("CLOSED");
    // The isolation arriving again (a resync replaying it) is older than that reset.
    expect(breaker.adopt({ breaker: remote("ISOLATED", 0), byOperator: true })).toBe(false);
    // Failures recorded before the reset do not undo it either.
    expect(breaker.adopt({ breaker: remote("OPEN", 65), byOperator: false })).toBe(false);
    expect(breaker.state).toBe("CLOSED");

    // A later isolation is adopted even when this breaker changed since, by calls.
    clock.now += 1000;
    breaker.failed(await breaker.admit(), "HTTP 500");
    expect(breaker.adopt({ breaker: remote("ISOLATED", -500), byOperator: true })).toBe(true);
    expect(breaker.state).toBe("ISOLATED");
    // Isolating what is isolated already is published too: it may be news elsewhere.
    breaker.isolate("isolated by an operator");
    expect(breaker.state).toBe("ISOLATED");
  });

  it("asks for a lapsed trial lease again before the next trial call", async () => {
    const { breaker, clock, fail, admit, lease } = breakerOnFakeClock();
    await fail(3);
    clock.now += 10_000;
    breaker.succeeded(await admit());
    expect(lease.asked).toBe(1);
    clock.now += 10_001; // the lease (10 s) lapsed between two slow trial calls
    lease.granted = false;
    await expect(breaker.admit()).rejects.toBeInstanceOf(CircuitOpenError);
    expect(lease.asked).toBe(2);
    expect(breaker.state).toBe("HALF_OPEN");
  });

  it("publishes a reset even when the breaker is closed, so replicas clear their counts", async () => {
    const { breaker, fail, transitions } = breakerOnFakeClock();
    await fail(2);
    breaker.reset("reset by an operator");
    expect(transitions.at(-1)).toMatchObject({ previousState: "CLOSED", state: "CLOSED" });
    expect(breaker.snapshot()).toMatchObject({ failureCount: 0, consecutiveFailures: 0 });
  });

  it("lets a call that waited on the trial lease through as the breaker stands after a reset", async () => {
    const { breaker, clock, fail, lease } = breakerOnFakeClock();
    await fail(3);
    clock.now += 10_000;
    let answer = () => {};
    lease.answer = new Promise((resolve) => {
      answer = resolve;
    });
    const waiting = breaker.admit();
    breaker.reset("reset by an operator");
    answer();
    await expect(waiting).resolves.toMatchObject({ trial: false });
    expect(breaker.state).toBe("CLOSED");
  });

  it("renews the trial lease with each trial call, and hands the trials over when it lapsed", async () => {
    const { breaker, clock, fail, admit, lease } = breakerOnFakeClock();
    await fail(3);
    clock.now += 10_000;
    breaker.succeeded(await admit());
    expect(lease.asked).toBe(1);
    lease.granted = false; // another replica took it after it lapsed
    await admit();
    expect(lease.asked).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(() => breaker.admit()).toThrow(CircuitOpenError);
  });
});
