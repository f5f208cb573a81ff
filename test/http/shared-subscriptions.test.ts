import { parse } from "graphql";
import { Repeater } from "graphql-yoga";
import { describe, expect, it } from "vitest";
import { createSubscriptionSharing } from "../../src/http/shared-subscriptions.js";

/** A source stream the test feeds by hand, counting how often one was started and closed. */
function source() {
  let push: (value: unknown) => void = () => {};
  const stats = { started: 0, closed: 0 };
  const start = () => {
    stats.started += 1;
    return new Repeater<unknown>(async (next, stop) => {
      push = (value) => void next(value);
      await stop;
      stats.closed += 1;
    });
  };
  return { start, stats, emit: (value: unknown) => push(value) };
}

async function take(iterable: unknown, count: number): Promise<unknown[]> {
  const iterator = (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const values: unknown[] = [];
  while (values.length < count) values.push((await iterator.next()).value);
  await iterator.return?.();
  return values;
}

// A macrotask turn, for the members' pending next() calls to reach the shared source
// before it emits; no time passes for anything else.
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("shared subscriptions", () => {
  const document = parse("subscription { serviceStatusChanged { status } }");

  it("executes identical subscriptions once and gives every member each result", async () => {
    const sharing = createSubscriptionSharing(() => {});
    const upstream = source();
    const a = await sharing.subscribe(document, null, {}, upstream.start);
    const b = await sharing.subscribe(document, null, {}, upstream.start);
    expect(upstream.stats.started).toBe(1);
    const received = Promise.all([take(a, 2), take(b, 2)]);
    await tick();
    upstream.emit(1);
    upstream.emit(2);
    expect(await received).toEqual([
      [1, 2],
      [1, 2],
    ]);
  });

  it("keeps different variables apart", async () => {
    const sharing = createSubscriptionSharing(() => {});
    const upstream = source();
    await sharing.subscribe(document, null, { serviceId: "a" }, upstream.start);
    await sharing.subscribe(document, null, { serviceId: "b" }, upstream.start);
    expect(upstream.stats.started).toBe(2);
  });

  it("goes on for those who stay, closes with the last, and starts afresh after", async () => {
    const sharing = createSubscriptionSharing(() => {});
    const upstream = source();
    const leaving = await sharing.subscribe(document, null, {}, upstream.start);
    const staying = await sharing.subscribe(document, null, {}, upstream.start);
    const stayed = take(staying, 2);
    const left = take(leaving, 1);
    await tick();
    upstream.emit("first");
    expect(await left).toEqual(["first"]);
    upstream.emit("second");
    expect(await stayed).toEqual(["first", "second"]);
    await tick();
    expect(upstream.stats.closed).toBe(1);

    await sharing.subscribe(document, null, {}, upstream.start);
    expect(upstream.stats.started).toBe(2);
  });

  it("ends every member with the error when the stream fails, and reports it", async () => {
    const reported: unknown[] = [];
    const sharing = createSubscriptionSharing((error) => reported.push(error));
    const failing = () =>
      new Repeater<unknown>(async (_push, stop) => {
        await tick();
        stop(new Error("source broke"));
      });
    const a = await sharing.subscribe(document, null, {}, failing);
    const b = await sharing.subscribe(document, null, {}, failing);
    for (const member of [a, b]) {
      await expect(
        (member as AsyncIterable<unknown>)[Symbol.asyncIterator]().next(),
      ).rejects.toThrow("source broke");
    }
    expect(reported).toHaveLength(1);
  });

  it("never joins a late subscriber to a group that closed", async () => {
    const sharing = createSubscriptionSharing(() => {});
    const upstream = source();
    const first = await sharing.subscribe(document, null, {}, upstream.start);
    await take(first, 0);
    await (first as AsyncIterable<unknown>)[Symbol.asyncIterator]().return?.();
    await tick();
    const late = await sharing.subscribe(document, null, {}, upstream.start);
    const received = take(late, 1);
    await tick();
    upstream.emit("for the late one");
    expect(await received).toEqual(["for the late one"]);
  });

  it("hands an error result to its subscriber alone", async () => {
    const sharing = createSubscriptionSharing(() => {});
    const failure = { errors: [{ message: "bad variables" }] };
    expect(await sharing.subscribe(document, null, {}, () => failure)).toBe(failure);
    const upstream = source();
    await sharing.subscribe(document, null, {}, upstream.start);
    expect(upstream.stats.started).toBe(1);
  });
});
