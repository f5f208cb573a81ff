import { DEFAULT_STRATEGY } from "../domain/service.js";
import type { ServiceCallResult } from "../services/calls.js";
import { builder } from "./builder.js";
import { SelectionStrategyEnum } from "./discovery.js";
import { CircuitStateEnum } from "./registry.js";

const CallServiceInput = builder.inputType("CallServiceInput", {
  description: "A request to a registered service, sent through its circuit breaker.",
  fields: (t) => ({
    serviceId: t.id({ description: "The instance to call; or give serviceType." }),
    serviceType: t.string({ description: "Any selectable instance of this type." }),
    strategy: t.field({
      type: SelectionStrategyEnum,
      defaultValue: DEFAULT_STRATEGY,
      description: "How an instance of serviceType is chosen.",
    }),
    method: t.string({ defaultValue: "GET" }),
    path: t.string({
      required: true,
      description:
        "Relative to the service's baseUrl. Without an admin token it must match a declared endpoint (`/executions/{id}` templates match).",
    }),
    query: t.field({ type: "JSON", description: "Query parameters: values or lists of values." }),
    body: t.field({ type: "JSON", description: "Sent as JSON." }),
    headers: t.field({ type: "JSON", description: "Extra request headers, name to value." }),
    idempotent: t.boolean({
      description:
        "Whether a failed attempt may be retried, and by serviceType sent to another instance after a 502, 503, 504, a lost connection or a timeout. Default: true for GET, HEAD, PUT, DELETE and OPTIONS.",
    }),
  }),
});

const ServiceCallResultRef = builder.objectRef<ServiceCallResult>("ServiceCallResult").implement({
  description: "The service's answer. A 4xx is an answer too, returned here, not an error.",
  fields: (t) => ({
    status: t.exposeInt("status"),
    headers: t.expose("headers", { type: "JSON" }),
    body: t.expose("body", {
      type: "JSON",
      nullable: true,
      description: "Parsed when the service sent JSON, else its text; null when empty.",
    }),
    serviceId: t.exposeID("serviceId", { description: "The instance that answered." }),
    attempts: t.exposeInt("attempts", {
      description:
        "Attempts over every instance tried: a failed connection is one, a breaker's refusal none.",
    }),
    instancesTried: t.exposeIDList("instancesTried", {
      description:
        "The instances the call went to, in order, the one that answered last. By serviceType a call goes on to another instance (at most three in all) when nothing could be sent to one, and an idempotent call also after a 502, 503 or 504, a lost connection or a timeout; by serviceId, only the one.",
    }),
    breakerState: t.expose("breakerState", { type: CircuitStateEnum }),
    durationMs: t.exposeFloat("durationMs"),
  }),
});

builder.mutationFields((t) => ({
  callService: t.field({
    type: ServiceCallResultRef,
    authScopes: { callServices: true },
    description:
      "Calls a registered service through the gateway's timeout, retry, circuit breaker and bulkhead.",
    args: { input: t.arg({ type: CallServiceInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.calls.call(
        { ...input, serviceId: input.serviceId == null ? null : String(input.serviceId) },
        ctx.caller,
        { requestId: ctx.requestId, traceparent: ctx.traceparent },
      ),
  }),
}));
