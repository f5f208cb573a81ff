import type { BreakerChange } from "./breaker.js";
import type { RegistryChangeEvent, StatusChange } from "./service.js";
import type { WorkflowExecution } from "./workflow.js";

/** Every event the gateway publishes, by topic. Services publish; subscriptions read. */
export type EventTopics = {
  "registry.changed": [RegistryChangeEvent];
  "service.statusChanged": [StatusChange];
  "breaker.changed": [BreakerChange];
  "workflow.updated": [WorkflowExecution];
};
