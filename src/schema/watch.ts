import type { RegistryChangeEvent } from "../services/model.js";
import { builder } from "./builder.js";
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

builder.subscriptionType({
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
