import { createPubSub, type PubSub } from "graphql-yoga";
import type { RegistryChangeEvent, StatusChange } from "./services/model.js";

/** Every event the gateway publishes, by topic. Services publish; subscriptions read. */
export type EventTopics = {
  "registry.changed": [RegistryChangeEvent];
  "service.statusChanged": [StatusChange];
};

export type Events = PubSub<EventTopics>;

/** In-process events: one gateway, or tests. */
export function createInProcessEvents(): Events {
  return createPubSub<EventTopics>();
}
