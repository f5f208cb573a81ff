import semver from "semver";
import { badInput } from "../domain/errors.js";
import type { JsonValue } from "../domain/json.js";
import type { ServiceRecord } from "../domain/service.js";
import { normalizeServiceType, parseStatus } from "../domain/service.js";
import type { IndexQuery } from "../stores/registry.js";

/* Inputs as GraphQL delivers them: an omitted or null field means "no condition". */
type StringMatch = {
  eq?: string | null;
  in?: readonly string[] | null;
  contains?: string | null;
  startsWith?: string | null;
};
type ListMatch = {
  all?: readonly string[] | null;
  any?: readonly string[] | null;
  none?: readonly string[] | null;
};
type MetadataMatch = {
  path: string;
  eq?: JsonValue;
  in?: readonly JsonValue[] | null;
  exists?: boolean | null;
};
export type ServiceWhere = {
  and?: readonly ServiceWhere[] | null;
  or?: readonly ServiceWhere[] | null;
  not?: ServiceWhere | null;
  type?: StringMatch | null;
  name?: StringMatch | null;
  status?: readonly string[] | null;
  capabilities?: ListMatch | null;
  tags?: ListMatch | null;
  version?: string | null;
  metadata?: readonly MetadataMatch[] | null;
  heartbeatWithinSeconds?: number | null;
};

export type ServicePredicate = (service: ServiceRecord, nowMs: number) => boolean;

/*
 * A search is evaluated against every candidate service, so its size is bounded: deeper,
 * wider or longer than this only makes sense as an attack.
 */
const MAX_WHERE_DEPTH = 8;
const MAX_WHERE_NODES = 100;
const MAX_LIST_ITEMS = 100;
/**
 * Longest text operand of a search or filter: a type, name, tag or capability, a semver
 * range, a metadata path. Registered values are at most 200 characters, so a longer one
 * matches nothing; it would only cost time (a 0.9 MB semver range held the event loop 4 s).
 */
const MAX_SEARCH_TEXT = 256;

/**
 * Compiles a where-tree into one predicate, validating every operand first, so bad
 * input is reported before anything is read.
 */
export function compileWhere(where: ServiceWhere): ServicePredicate {
  return compileNode(where, "where", 0, { nodes: 0 });
}

function compileNode(
  where: ServiceWhere,
  field: string,
  depth: number,
  budget: { nodes: number },
): ServicePredicate {
  if (depth > MAX_WHERE_DEPTH) badInputThrow(field, `nests deeper than ${MAX_WHERE_DEPTH} levels`);
  budget.nodes += 1;
  if (budget.nodes > MAX_WHERE_NODES) {
    badInputThrow(field, `makes the search larger than ${MAX_WHERE_NODES} conditions`);
  }
  for (const [name, value] of Object.entries(where)) {
    limitOperand(value, `${field}.${name}`);
    for (const [operator, operand] of Object.entries(isOperatorObject(value) ? value : {})) {
      limitOperand(operand, `${field}.${name}.${operator}`);
    }
  }
  const checks: ServicePredicate[] = [];

  if (where.and) {
    const parts = where.and.map((part, i) =>
      compileNode(part, `${field}.and.${i}`, depth + 1, budget),
    );
    checks.push((s, now) => parts.every((part) => part(s, now)));
  }
  if (where.or) {
    const parts = where.or.map((part, i) =>
      compileNode(part, `${field}.or.${i}`, depth + 1, budget),
    );
    checks.push((s, now) => parts.some((part) => part(s, now)));
  }
  if (where.not) {
    const inner = compileNode(where.not, `${field}.not`, depth + 1, budget);
    checks.push((s, now) => !inner(s, now));
  }
  if (where.type) {
    const match = compileStringMatch(where.type, normalizeServiceType, `${field}.type`);
    checks.push((s) => match(s.type));
  }
  if (where.name) {
    const match = compileStringMatch(where.name, (value) => value, `${field}.name`);
    checks.push((s) => match(s.name));
  }
  if (where.status) {
    const wanted = new Set(where.status.map((status) => parseStatus(status, `${field}.status`)));
    checks.push((s) => wanted.has(s.status));
  }
  if (where.capabilities) {
    const match = compileListMatch(where.capabilities);
    checks.push((s) => match(s.capabilities));
  }
  if (where.tags) {
    const match = compileListMatch(where.tags);
    checks.push((s) => match(s.tags));
  }
  if (where.version != null) {
    const range = where.version;
    if (semver.validRange(range, { loose: true }) === null) {
      badInputThrow(`${field}.version`, `"${range}" is not a semver range`);
    }
    checks.push((s) => satisfies(s.version, range));
  }
  if (where.metadata) {
    const matches = where.metadata.map((m, i) => compileMetadataMatch(m, `${field}.metadata.${i}`));
    checks.push((s) => matches.every((match) => match(s.metadata)));
  }
  if (where.heartbeatWithinSeconds != null) {
    const seconds = where.heartbeatWithinSeconds;
    if (seconds < 0) badInputThrow(`${field}.heartbeatWithinSeconds`, "must not be negative");
    checks.push((s, now) => now - Date.parse(s.lastHeartbeat) <= seconds * 1000);
  }

  return (service, now) => checks.every((check) => check(service, now));
}

/** What the store's indexes can narrow before the predicate runs: top-level type and status. */
export function indexHint(where: ServiceWhere): IndexQuery {
  const hint: IndexQuery = {};
  if (where.type?.eq != null) hint.type = normalizeServiceType(where.type.eq);
  if (where.status)
    hint.statuses = where.status.map((status) => parseStatus(status, "where.status"));
  return hint;
}

function compileStringMatch(
  match: StringMatch,
  normalize: (value: string) => string,
  field: string,
): (value: string) => boolean {
  const checks: ((value: string) => boolean)[] = [];
  if (match.eq != null) {
    const expected = normalize(match.eq);
    checks.push((value) => value === expected);
  }
  if (match.in != null) {
    const allowed = new Set(match.in.map(normalize));
    checks.push((value) => allowed.has(value));
  }
  if (match.contains != null) {
    const part = normalize(match.contains).toLowerCase();
    checks.push((value) => value.toLowerCase().includes(part));
  }
  if (match.startsWith != null) {
    const prefix = normalize(match.startsWith).toLowerCase();
    checks.push((value) => value.toLowerCase().startsWith(prefix));
  }
  if (checks.length === 0)
    badInputThrow(field, "needs at least one of eq, in, contains, startsWith");
  return (value) => checks.every((check) => check(value));
}

function compileListMatch(match: ListMatch): (values: readonly string[]) => boolean {
  const all = match.all ?? [];
  const any = match.any ?? null;
  const none = match.none ?? [];
  return (values) =>
    all.every((value) => values.includes(value)) &&
    (any === null || any.some((value) => values.includes(value))) &&
    none.every((value) => !values.includes(value));
}

function compileMetadataMatch(
  match: MetadataMatch,
  field: string,
): (metadata: ServiceRecord["metadata"]) => boolean {
  limitText(match.path, `${field}.path`);
  const segments = match.path.split(".");
  if (segments.some((segment) => segment === "")) {
    badInputThrow(`${field}.path`, "must be dot-separated names, like limits.rpm");
  }
  const checks: ((found: { present: boolean; value: JsonValue }) => boolean)[] = [];
  if (match.exists != null) {
    const exists = match.exists;
    checks.push((found) => found.present === exists);
  }
  // `eq: null` is a real condition (the value is JSON null); only an absent eq is none.
  if (match.eq !== undefined) {
    const expected = match.eq;
    checks.push((found) => found.present && jsonEqual(found.value, expected));
  }
  if (match.in != null) {
    const allowed = match.in;
    limitList(allowed, `${field}.in`);
    checks.push((found) => found.present && allowed.some((value) => jsonEqual(found.value, value)));
  }
  return (metadata) => {
    const found = readPath(metadata, segments);
    return checks.every((check) => check(found));
  };
}

function readPath(root: JsonValue, segments: string[]): { present: boolean; value: JsonValue } {
  let current: JsonValue = root;
  for (const segment of segments) {
    if (current === null || typeof current !== "object") return { present: false, value: null };
    // Own properties only: "constructor" or "__proto__" must not be found on every service.
    const found = Array.isArray(current)
      ? /^\d+$/.test(segment) && Number(segment) < current.length
      : Object.hasOwn(current, segment);
    if (!found) return { present: false, value: null };
    current = (current as Record<string, JsonValue>)[segment] as JsonValue;
  }
  return { present: true, value: current };
}

/**
 * Equality of JSON values. Not node:util's isDeepStrictEqual, which compares numbers with
 * Object.is: -0 is not 0 there, while JSON text cannot tell them apart, so a memory store
 * (values as given) and a Redis store (values as JSON) would answer the same filter
 * differently. Every other JSON value compares alike (test/graphql/discovery.test.ts).
 */
function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i] as JsonValue));
  }
  const left = a as Record<string, JsonValue>;
  const right = b as Record<string, JsonValue>;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length &&
    keys.every((key) => key in right && jsonEqual(left[key] as JsonValue, right[key] as JsonValue))
  );
}

/** Versions such as "1.2" or "v2" are coerced, so services need not be strict about semver. */
function satisfies(version: string, range: string): boolean {
  const options = { loose: true, includePrerelease: true };
  if (semver.valid(version, options)) return semver.satisfies(version, range, options);
  const coerced = semver.coerce(version, { includePrerelease: true });
  return coerced !== null && semver.satisfies(coerced, range, options);
}

function isOperatorObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function limitList(list: readonly unknown[], field: string): void {
  if (list.length > MAX_LIST_ITEMS) badInputThrow(field, `accepts at most ${MAX_LIST_ITEMS} items`);
}

/** Refuses a search text longer than MAX_SEARCH_TEXT; null and undefined pass. */
export function limitText(text: string | null | undefined, field: string): void {
  if (text != null && text.length > MAX_SEARCH_TEXT) {
    badInputThrow(field, `accepts at most ${MAX_SEARCH_TEXT} characters`);
  }
}

/** A list is limited in length and each of its texts; a text alone in length. */
function limitOperand(operand: unknown, field: string): void {
  if (typeof operand === "string") limitText(operand, field);
  if (!Array.isArray(operand)) return;
  limitList(operand, field);
  for (const [i, item] of operand.entries()) {
    if (typeof item === "string") limitText(item, `${field}.${i}`);
  }
}

function badInputThrow(field: string, message: string): never {
  throw badInput(field, message);
}
