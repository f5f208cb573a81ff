import type { BreakerChange } from "../domain/breaker.js";
import { builder } from "./builder.js";
import { CircuitBreakerRef, CircuitStateEnum } from "./registry.js";

const CircuitBreakerEventRef = builder.objectRef<BreakerChange>("CircuitBreakerEvent").implement({
  description: "One circuit breaker transition, made on any replica.",
  fields: (t) => ({
    serviceId: t.exposeID("serviceId"),
    previousState: t.expose("previousState", { type: CircuitStateEnum }),
    state: t.expose("state", { type: CircuitStateEnum }),
    at: t.expose("at", { type: "DateTime" }),
    reason: t.exposeString("reason", { description: "Why it changed, e.g. the last failure." }),
    byOperator: t.exposeBoolean("byOperator", {
      description: "Reset or isolated by an operator, rather than moved by calls.",
    }),
    breaker: t.field({ type: CircuitBreakerRef, resolve: (event) => event.breaker }),
  }),
});

builder.queryFields((t) => ({
  circuitBreakers: t.field({
    type: [CircuitBreakerRef],
    description: "The breaker of every registered instance, by service id.",
    args: { state: t.arg({ type: [CircuitStateEnum], description: "Only breakers in these." }) },
    resolve: (_root, { state }, ctx) => ctx.services.breakers.list(state),
  }),
}));

builder.mutationFields((t) => ({
  resetCircuitBreaker: t.field({
    type: CircuitBreakerRef,
    authScopes: { operateBreakers: true },
    description:
      "Closes an instance's breaker and clears its counts, on every replica (admin, operator).",
    args: { serviceId: t.arg.id({ required: true }) },
    resolve: (_root, { serviceId }, ctx) => ctx.services.breakers.reset(String(serviceId)),
  }),
  isolateCircuitBreaker: t.field({
    type: CircuitBreakerRef,
    authScopes: { operateBreakers: true },
    description:
      "Holds an instance's breaker open (ISOLATED) on every replica until it is reset (admin, operator).",
    args: { serviceId: t.arg.id({ required: true }) },
    resolve: (_root, { serviceId }, ctx) => ctx.services.breakers.isolate(String(serviceId)),
  }),
}));

builder.subscriptionFields((t) => ({
  circuitBreakerChanged: t.field({
    type: CircuitBreakerEventRef,
    description: "Every breaker transition, on any replica; narrowed to one instance.",
    args: { serviceId: t.arg.id() },
    subscribe: (_root, { serviceId }, ctx) =>
      ctx.services.watch.breakerChanges({ serviceId: serviceId?.toString() }),
    resolve: (event) => event,
  }),
}));
