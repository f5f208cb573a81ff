import type { RegistryChangeEvent } from "../domain/service.js";
import type { RegistryChanges } from "../services/registry.js";
import { builder } from "./builder.js";
import { perItem, pricedByPage } from "./cost.js";
import { ServiceRef, ServiceStatusEventRef } from "./registry.js";

const RegistryChangeEnum = builder.enumType("RegistryChange", {
  values: ["REGISTERED", "UPDATED", "UNREGISTERED"] as const,
});

const RegistryEventRef = builder.objectRef<RegistryChangeEvent>("RegistryEvent").implement({
  description: "A registration, update or removal, with the registry revision it made.",
  fields: (t) => ({
    change: t.expose("change", { type: RegistryChangeEnum }),
    service: t.field({ type: ServiceRef, resolve: (event) => event.service }),
    revision: t.exposeInt("revision"),
    at: t.expose("at", { type: "DateTime" }),
  }),
});

const RegistryChangesRef = builder.objectRef<RegistryChanges>("RegistryChanges").implement({
  description: "What a reconnecting client missed, or word that it must read the registry again.",
  fields: (t) => ({
    events: t.field({
      type: [RegistryEventRef],
      complexity: pricedByPage,
      resolve: (changes) => changes.events,
    }),
    revision: t.exposeInt("revision", { description: "The registry's revision now." }),
    resyncRequired: t.exposeBoolean("resyncRequired", {
      description: "True when the missed changes are no longer all kept: read the registry again.",
    }),
    hasMore: t.exposeBoolean("hasMore", {
      description: "More changes follow the last event; ask again from its revision.",
    }),
  }),
});

builder.queryFields((t) => ({
  registryChanges: t.field({
    type: RegistryChangesRef,
    description: "Registry changes after a revision, oldest first (the newest 10,000 are kept).",
    args: {
      sinceRevision: t.arg.int({ required: true }),
      first: t.arg.int({ defaultValue: 500 }),
    },
    complexity: ({ first }) => perItem(first, 500),
    resolve: (_root, { sinceRevision, first }, ctx) =>
      ctx.services.registry.changesSince(sinceRevision, first),
  }),
}));

builder.subscriptionType({
  authScopes: { read: true },
  fields: (t) => ({
    serviceStatusChanged: t.field({
      type: ServiceStatusEventRef,
      description: "Every status transition, on any replica; narrowed by service or type.",
      args: { serviceId: t.arg.id(), type: t.arg.string() },
      subscribe: (_root, { serviceId, type }, ctx) =>
        ctx.services.watch.statusChanges({ serviceId: serviceId?.toString(), type }),
      resolve: (event) => event,
    }),
    registryChanged: t.field({
      type: RegistryEventRef,
      description: "Every registration, update and removal, on any replica; narrowed by type.",
      args: { type: t.arg.string() },
      subscribe: (_root, { type }, ctx) => ctx.services.watch.registryChanges({ type }),
      resolve: (event) => event,
    }),
  }),
});
