import type { JsonObject } from "./json.js";

/**
 * An integration between two registered services: what calling the target for the source
 * means (its `config`: method, path, headers). Timestamps in ISO 8601.
 */
export type Integration = {
  id: string;
  name: string;
  sourceServiceId: string;
  targetServiceId: string;
  integrationType: string;
  config: JsonObject;
  description: string | null;
  metadata: JsonObject;
  createdAt: string;
  updatedAt: string;
};
