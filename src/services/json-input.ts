import { badInput } from "../domain/errors.js";
import { describeJsonLimit, exceededJsonLimit, type JsonLimits } from "../lib/json-bounds.js";

/** Deepest JSON value the API accepts anywhere (metadata, workflow data, call bodies, JSON). */
export const MAX_JSON_DEPTH = 32;

/**
 * Any JSON value the API takes (the JSON scalar, a workflow's data, a call's body): as
 * large as a request may be (MAX_REQUEST_BODY_BYTES' default), 32 levels deep.
 */
export const JSON_VALUE_LIMITS: JsonLimits = { maxDepth: MAX_JSON_DEPTH, maxBytes: 1024 * 1024 };

/**
 * A whole payload (GraphQL variables, a REST body) before anything walks it: JSON.parse
 * accepts any depth, but coercing variables, zod and JSON.stringify recurse. Deeper than
 * the JSON values inside it may be, with room for the inputs around them; its size is
 * bounded by the body limit already.
 */
export const PAYLOAD_LIMITS: JsonLimits = {
  maxDepth: 2 * MAX_JSON_DEPTH,
  maxBytes: Number.POSITIVE_INFINITY,
};

/** Refuses a value beyond `limits` as BAD_USER_INPUT naming `field`. */
export function assertJsonWithin(value: unknown, field: string, limits: JsonLimits): void {
  const exceeded = exceededJsonLimit(value, limits);
  if (exceeded) throw badInput(field, describeJsonLimit(exceeded));
}
