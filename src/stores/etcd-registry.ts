import {
  ClientRuntimeError,
  type Etcd3,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  GRPCInvalidArgumentError,
  GRPCUnauthenticatedError,
  type IKeyValue,
  type IRequestOp,
  type IResponseOp,
  type Watcher,
} from "etcd3";
import { GatewayError } from "../domain/errors.js";
import {
  type HealthCheck,
  type RegistryChangeEvent,
  type ServiceRecord,
  withCurrentFields,
} from "../domain/service.js";
import { type Clock, systemClock } from "../lib/clock.js";
import {
  type HeartbeatRequest,
  type HeartbeatResult,
  heartbeatOutcome,
  type IndexQuery,
  indexNamesOf,
  type PutResult,
  type RegistryStore,
  type RemoveResult,
  type StoredService,
} from "./registry.js";

/*
 * Layout under the key prefix (default `/sig/v1/`), docs/adr/0017-etcd-key-layout.md:
 *   service/<id>                   the whole record (JSON); its etcd `version` is the
 *                                  store's version, its mod revision what writes compare
 *   idx/<kind>/<value>/<id>        empty; kind: status, tag, cap
 *   idx/type/<type>/<id>           a copy of the record: discovery by type is one range
 *   revision                       empty; its etcd `version` is the registry revision
 *   restored                       set once the store was filled from the durable record
 *   changes/<revision, 16 digits>  recent registry changes (JSON)
 *   counter/<name>                 empty; its etcd `version` is the counter's value
 *   checks/<id>                    the service's recent probe results (a JSON array,
 *                                  newest first), removed with the service
 * Values and ids in keys are URI-encoded, so a tag `a/b` never falls under the tag `a`.
 * Every write is one transaction that compares the service key's mod revision with the
 * one just read, so the record and its index keys change together or not at all, and
 * a reader (one revision for all its ranges) never sees them disagree.
 */

/** Write attempts when another writer changed the service between read and commit. */
const MAX_ATTEMPTS = 10;
/** Range operations per read transaction (etcd's --max-txn-ops defaults to 128). */
const READ_CHUNK = 100;

export type EtcdRegistryStoreOptions = {
  client: Etcd3;
  /** Prefix of every key; versioned so a layout change never reads old data. */
  keyPrefix: string;
  /** Dates the `restored` mark. */
  clock?: Clock;
};

type Current = { record: ServiceRecord; version: number; modRevision: string };

export function createEtcdRegistryStore({
  client,
  keyPrefix,
  clock = systemClock,
}: EtcdRegistryStoreOptions): RegistryStore {
  const kv = client.kv;
  const key = (path: string) => Buffer.from(keyPrefix + path);
  const serviceKey = (id: string) => key(`service/${encodeURIComponent(id)}`);
  const checksKey = (id: string) => key(`checks/${encodeURIComponent(id)}`);
  const indexKey = (name: string, id: string) => key(`${indexPath(name)}${encodeURIComponent(id)}`);
  const revisionKey = key("revision");
  const changesPrefix = key("changes/");

  async function read(id: string): Promise<Current | null> {
    const { kvs } = await kv.range({ key: serviceKey(id) });
    const found = kvs[0];
    return found
      ? { record: toRecord(found), version: Number(found.version), modRevision: found.mod_revision }
      : null;
  }

  /**
   * Commits `ops` if the service is still as read (absent: `current` null).
   * Returns the responses, or null when someone wrote it meanwhile.
   */
  async function commit(
    id: string,
    current: Current | null,
    ops: IRequestOp[],
  ): Promise<IResponseOp[] | null> {
    const reply = await kv.txn({
      compare: [
        {
          key: serviceKey(id),
          target: "Mod",
          result: "Equal",
          mod_revision: current?.modRevision ?? 0,
        },
      ],
      success: ops,
      failure: [],
    });
    return reply.succeeded ? reply.responses : null;
  }

  /**
   * Puts the service and moves only the index keys that changed. The type index entry
   * holds a copy of the record, rewritten with it, so that discovery by type (the hot
   * read) is one range: the copy costs a key per write, a second round trip is dearer.
   */
  function writeOps(record: ServiceRecord, previous: ServiceRecord | null): IRequestOp[] {
    const json = Buffer.from(JSON.stringify(record));
    const before = new Set(previous ? indexesOf(previous) : []);
    const after = new Set(indexesOf(record));
    const typeIndex = `type:${record.type}`;
    const ops: IRequestOp[] = [
      { request_put: { key: serviceKey(record.id), value: json } },
      { request_put: { key: indexKey(typeIndex, record.id), value: json } },
    ];
    for (const name of before) {
      if (!after.has(name)) ops.push({ request_delete_range: { key: indexKey(name, record.id) } });
    }
    for (const name of after) {
      if (!before.has(name) && name !== typeIndex) {
        ops.push({ request_put: { key: indexKey(name, record.id), value: Buffer.alloc(0) } });
      }
    }
    return ops;
  }

  /** Counts a registry revision within the transaction; read back with revisionOf(). */
  const countRevision: IRequestOp = {
    request_put: { key: revisionKey, value: Buffer.alloc(0), prev_kv: true },
  };

  /** Reads records by id, all at one etcd revision. */
  async function readAt(ids: string[], revision: string): Promise<ServiceRecord[]> {
    const records: ServiceRecord[] = [];
    for (let start = 0; start < ids.length; start += READ_CHUNK) {
      const reply = await kv.txn({
        compare: [],
        success: ids
          .slice(start, start + READ_CHUNK)
          .map((id) => ({ request_range: { key: serviceKey(id), revision } })),
        failure: [],
      });
      for (const response of reply.responses) {
        const found = response.response_range.kvs[0];
        if (found) records.push(toRecord(found));
      }
    }
    return records;
  }

  /** Ids under each index prefix, read in one transaction, with the revision read at. */
  async function idsUnder(paths: string[]): Promise<{ sets: Set<string>[]; revision: string }> {
    const reply = await kv.txn({
      compare: [],
      success: paths.map((path) => ({
        request_range: prefixRange(key(path), { keys_only: true }),
      })),
      failure: [],
    });
    const sets = reply.responses.map(
      (response) => new Set(response.response_range.kvs.map((found) => lastSegment(found.key))),
    );
    return { sets, revision: reply.header.revision };
  }

  return {
    kind: "etcd",

    get: (id) =>
      guarded(async (): Promise<StoredService | null> => {
        const current = await read(id);
        return current ? { record: current.record, version: current.version } : null;
      }),

    find: (query) =>
      guarded(async () => {
        // "Any of no statuses" matches nothing, as in the memory store.
        if (query.statuses?.length === 0) return [];
        const statuses = query.statuses ? new Set<string>(query.statuses) : null;
        if (query.type !== undefined) {
          // One range: the type index holds the records; the rest is checked on them.
          const { kvs } = await kv.range(prefixRange(key(indexPath(`type:${query.type}`))));
          return kvs.map(toRecord).filter((record) => matches(record, query, statuses));
        }
        const required = indexPathsFor(query);
        if (required.length === 0 && !statuses) {
          const { kvs } = await kv.range(prefixRange(key("service/")));
          return kvs.map(toRecord);
        }
        if (required.length === 0) {
          const { sets, revision } = await idsUnder(
            [...(statuses ?? [])].map((status) => indexPath(`status:${status}`)),
          );
          return readAt(
            sets.flatMap((set) => [...set]),
            revision,
          );
        }
        const { sets, revision } = await idsUnder(required);
        sets.sort((a, b) => a.size - b.size);
        const [smallest, ...others] = sets as [Set<string>, ...Set<string>[]];
        const ids = [...smallest].filter((id) => others.every((set) => set.has(id)));
        const records = await readAt(ids, revision);
        return statuses ? records.filter((record) => statuses.has(record.status)) : records;
      }),

    put: (record, expectedVersion) =>
      guarded(async (): Promise<PutResult> => {
        const current = await read(record.id);
        if ((current?.version ?? null) !== expectedVersion)
          return { ok: false, reason: "conflict" };
        const ops = [...writeOps(record, current?.record ?? null), countRevision];
        const responses = await commit(record.id, current, ops);
        if (!responses) return { ok: false, reason: "conflict" };
        return { ok: true, revision: revisionOf(responses) };
      }),

    remove: (id, expectedVersion) =>
      guarded(async (): Promise<RemoveResult> => {
        for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
          const current = await read(id);
          if (!current) return { ok: false, reason: "not_found" };
          if (expectedVersion !== undefined && current.version !== expectedVersion) {
            return { ok: false, reason: "conflict" };
          }
          const ops: IRequestOp[] = [
            { request_delete_range: { key: serviceKey(id) } },
            { request_delete_range: { key: checksKey(id) } },
            ...indexesOf(current.record).map((name) => ({
              request_delete_range: { key: indexKey(name, id) },
            })),
            countRevision,
          ];
          const responses = await commit(id, current, ops);
          if (responses) {
            return { ok: true, removed: current.record, revision: revisionOf(responses) };
          }
          if (expectedVersion !== undefined) return { ok: false, reason: "conflict" };
        }
        throw tooBusy(id);
      }),

    heartbeat: (request: HeartbeatRequest) =>
      guarded(async (): Promise<HeartbeatResult> => {
        for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
          const current = await read(request.id);
          if (!current) return { outcome: "not_found" };
          const { record } = current;
          const outcome = heartbeatOutcome(record, request);
          if (!outcome) return { outcome: "forbidden" };
          const { status } = outcome;
          const updated = { ...record, ...outcome };
          const changed = status !== record.status;
          const ops = writeOps(updated, record);
          if (changed) ops.push(countRevision);
          const responses = await commit(record.id, current, ops);
          if (!responses) continue;
          return {
            outcome: "ok",
            previousStatus: record.status,
            record: updated,
            revision: changed ? revisionOf(responses) : null,
          };
        }
        throw tooBusy(request.id);
      }),

    saveHealth: (check: HealthCheck, expectedVersion?: number) =>
      guarded(async () => {
        for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
          const current = await read(check.serviceId);
          if (!current) return "missing";
          if (expectedVersion !== undefined && current.version !== expectedVersion) {
            return "conflict";
          }
          const updated = { ...current.record, health: check };
          if (await commit(check.serviceId, current, writeOps(updated, current.record))) {
            return "saved";
          }
          if (expectedVersion !== undefined) return "conflict";
        }
        throw tooBusy(check.serviceId);
      }),

    appendHealthCheck: (check, keep) =>
      guarded(async () => {
        const ring = checksKey(check.serviceId);
        // Read, prepend, trim, and put only if nobody wrote the ring in between.
        for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
          const { kvs } = await kv.range({ key: ring });
          const found = kvs[0];
          const kept = found ? (JSON.parse(found.value.toString()) as HealthCheck[]) : [];
          const reply = await kv.txn({
            compare: [
              { key: ring, target: "Mod", result: "Equal", mod_revision: found?.mod_revision ?? 0 },
            ],
            success: [
              {
                request_put: {
                  key: ring,
                  value: Buffer.from(JSON.stringify([check, ...kept].slice(0, keep))),
                },
              },
            ],
            failure: [],
          });
          if (reply.succeeded) return;
        }
        throw tooBusy(check.serviceId);
      }),

    recentHealthChecks: (id, limit) =>
      guarded(async () => {
        if (limit <= 0) return [];
        const { kvs } = await kv.range({ key: checksKey(id) });
        const kept = kvs[0] ? (JSON.parse(kvs[0].value.toString()) as HealthCheck[]) : [];
        return kept.slice(0, limit);
      }),

    nextCounter: (name) =>
      guarded(async () => {
        // A put bumps the key's version by one, atomically: the counter is that version.
        const reply = await kv.put({
          key: key(`counter/${encodeURIComponent(name)}`),
          value: Buffer.alloc(0),
          prev_kv: true,
        });
        return Number(reply.prev_kv?.version ?? 0) + 1;
      }),

    revision: () =>
      guarded(async () => {
        const { kvs } = await kv.range({ key: revisionKey, keys_only: true });
        return Number(kvs[0]?.version ?? 0);
      }),

    isRestored: () =>
      guarded(async () => {
        const reply = await kv.range({ key: key("restored"), count_only: true });
        return Number(reply.count) > 0;
      }),

    markRestored: async () => {
      await guarded(() =>
        kv.put({ key: key("restored"), value: Buffer.from(new Date(clock.now()).toISOString()) }),
      );
    },

    appendChange: (event, keep) =>
      guarded(async () => {
        const ops: IRequestOp[] = [
          {
            request_put: {
              key: key(`changes/${pad(event.revision)}`),
              value: Buffer.from(JSON.stringify(event)),
            },
          },
        ];
        const dropBelow = event.revision - keep + 1;
        if (dropBelow > 0) {
          ops.push({
            request_delete_range: {
              key: changesPrefix,
              range_end: key(`changes/${pad(dropBelow)}`),
            },
          });
        }
        await kv.txn({ compare: [], success: ops, failure: [] });
      }),

    changesSince: (since, limit) =>
      guarded(async () => {
        const reply = await kv.txn({
          compare: [],
          success: [
            {
              request_range: {
                key: key(`changes/${pad(since + 1)}`),
                range_end: prefixEnd(changesPrefix),
                limit,
              },
            },
            { request_range: { ...prefixRange(changesPrefix, { keys_only: true }), limit: 1 } },
          ],
          failure: [],
        });
        const [kept, oldest] = reply.responses as [IResponseOp, IResponseOp];
        const events = kept.response_range.kvs.map((found) => {
          const event = JSON.parse(found.value.toString()) as RegistryChangeEvent;
          withCurrentFields(event.service);
          return event;
        });
        const oldestKey = oldest.response_range.kvs[0]?.key;
        return { events, oldestKept: oldestKey ? Number(lastSegment(oldestKey)) : null };
      }),

    ping: async () => {
      await guarded(() => kv.range({ key: revisionKey, keys_only: true }));
    },

    onConnectionChange(listener) {
      // The watch stream is the client's one long-lived connection: it says when it is
      // cut and when it is back. A watch on the mark also sees it go with the data.
      let watcher: Watcher | null = null;
      let ended = false;
      const lostAndBack = () => {
        listener(false);
        listener(true);
      };
      const watch = () => {
        const created = client.watch().key(key("restored")).watcher();
        watcher = created;
        created.on("disconnected", () => listener(false));
        created.on("connected", () => listener(true));
        created.on("delete", lostAndBack);
        // Cancelled by etcd (the revision to resume from was compacted): what happened
        // meanwhile is unknown, so the store is checked again, and watched anew.
        created.on("error", () => {
          if (ended) return;
          watch();
          lostAndBack();
        });
      };
      watch();
      return () => {
        ended = true;
        void (watcher as Watcher | null)?.cancel().catch(() => {});
      };
    },
  };
}

/** Whether a record meets the capability, tag and status criteria (the type is the range's). */
function matches(record: ServiceRecord, query: IndexQuery, statuses: Set<string> | null): boolean {
  return (
    (statuses === null || statuses.has(record.status)) &&
    (query.capability === undefined || record.capabilities.includes(query.capability)) &&
    (query.tags ?? []).every((tag) => record.tags.includes(tag))
  );
}

/** The index keys of a service, status included, as `<kind>:<value>`. */
function indexesOf(record: ServiceRecord): string[] {
  return [...indexNamesOf(record), `status:${record.status}`];
}

/** `type:X` → `idx/type/X/`; the value encoded, so it can hold a slash. */
function indexPath(name: string): string {
  const colon = name.indexOf(":");
  return `idx/${name.slice(0, colon)}/${encodeURIComponent(name.slice(colon + 1))}/`;
}

function indexPathsFor(query: IndexQuery): string[] {
  const names: string[] = [];
  if (query.capability !== undefined) names.push(`cap:${query.capability}`);
  for (const tag of query.tags ?? []) names.push(`tag:${tag}`);
  return names.map(indexPath);
}

function prefixRange(prefix: Buffer, options: { keys_only?: boolean } = {}) {
  return { key: prefix, range_end: prefixEnd(prefix), ...options };
}

/** The first key after every key that starts with `prefix` (etcd's range end). */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function lastSegment(key: Buffer): string {
  const text = key.toString();
  return decodeURIComponent(text.slice(text.lastIndexOf("/") + 1));
}

/** Revisions as fixed-width keys, so that key order is revision order. */
function pad(revision: number): string {
  return String(revision).padStart(16, "0");
}

/** The registry revision the transaction's `countRevision` put made (always the last op). */
function revisionOf(responses: IResponseOp[]): number {
  return Number(responses.at(-1)?.response_put.prev_kv?.version ?? 0) + 1;
}

function toRecord(found: IKeyValue): ServiceRecord {
  // A record written by an older gateway lacks the fields added since.
  return withCurrentFields(JSON.parse(found.value.toString()) as ServiceRecord);
}

function tooBusy(id: string): GatewayError {
  return new GatewayError("CONFLICT", `Service ${id} is changing too fast to update; retry.`, {
    serviceId: id,
  });
}

/**
 * Connection failures become SERVICE_UNAVAILABLE, so callers get a clear, retryable error;
 * so do refused credentials (an operator's to fix, and readiness says so). A request etcd
 * refused as malformed (or a client bug) is rethrown as it is, to be logged and masked
 * like any other.
 */
async function guarded<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (isAuthRefusal(error)) {
      throw new GatewayError(
        "SERVICE_UNAVAILABLE",
        "etcd refused the gateway's credentials (ETCD_USERNAME, ETCD_PASSWORD).",
        { dependency: "etcd" },
        { cause: error },
      );
    }
    if (
      error instanceof GatewayError ||
      error instanceof GRPCInvalidArgumentError ||
      error instanceof ClientRuntimeError
    ) {
      throw error;
    }
    throw new GatewayError(
      "SERVICE_UNAVAILABLE",
      "The registry store (etcd) is unavailable; try again shortly.",
      { dependency: "etcd" },
      { cause: error },
    );
  }
}

function isAuthRefusal(error: unknown): boolean {
  return (
    error instanceof EtcdPermissionDeniedError ||
    error instanceof EtcdAuthenticationFailedError ||
    error instanceof EtcdInvalidAuthTokenError ||
    error instanceof GRPCUnauthenticatedError ||
    // etcd's answer to a request without a user once auth is on.
    (error instanceof GRPCInvalidArgumentError && /user name is empty/.test(error.message))
  );
}
