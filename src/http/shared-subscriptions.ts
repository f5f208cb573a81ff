import type { DocumentNode } from "graphql";
import { Repeater } from "graphql-yoga";

type Group = { join(): AsyncIterable<unknown> };

/**
 * Identical subscriptions (the same document, operation and variables) share one
 * execution: each event is executed once per group, not once per subscriber, and the
 * same result goes to every member. Dashboards mostly subscribe alike, so this is most
 * of the cost of fan-out (shared/PERFORMANCE.md, finding 4). The documents come from
 * yoga's parse cache, so identical queries are the same object.
 *
 * Sharing assumes a subscription's results do not depend on who asked; a field that
 * came to depend on the caller would have to put the caller into the key.
 */
export function createSubscriptionSharing() {
  const groups = new WeakMap<DocumentNode, Map<string, Group>>();

  return {
    async subscribe(
      document: DocumentNode,
      operationName: string | null | undefined,
      variables: unknown,
      start: () => unknown,
    ): Promise<unknown> {
      const byVariables = groups.get(document) ?? new Map<string, Group>();
      groups.set(document, byVariables);
      const key = `${operationName ?? ""}\n${JSON.stringify(variables ?? {})}`;
      const existing = byVariables.get(key);
      if (existing) return existing.join();

      const source = await start();
      // An error instead of a stream (bad variables, say) is this subscriber's alone.
      if (!isAsyncIterable(source)) return source;
      const raced = byVariables.get(key);
      if (raced) {
        await source[Symbol.asyncIterator]().return?.();
        return raced.join();
      }
      const group = createGroup(source, () => {
        if (byVariables.get(key) === group) byVariables.delete(key);
      });
      byVariables.set(key, group);
      return group.join();
    },
  };
}

function createGroup(source: AsyncIterable<unknown>, onClose: () => void): Group {
  const iterator = source[Symbol.asyncIterator]();
  const members = new Set<{ push(value: unknown): void; end(): void }>();
  let pumping = false;
  let closed = false;

  const close = async () => {
    if (closed) return;
    closed = true;
    onClose();
    await iterator.return?.();
  };

  async function pump(): Promise<void> {
    pumping = true;
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        for (const member of members) member.push(next.value);
      }
    } finally {
      for (const member of members) member.end();
      await close();
    }
  }

  return {
    join() {
      return new Repeater<unknown>(async (push, stop) => {
        const member = { push: (value: unknown) => void push(value), end: () => stop() };
        members.add(member);
        if (!pumping) void pump();
        await stop;
        members.delete(member);
        if (members.size === 0) await close();
      });
    },
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
