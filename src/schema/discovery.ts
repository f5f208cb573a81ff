import { DEFAULT_STRATEGY, type ServiceRecord, selectionStrategies } from "../domain/service.js";
import { encodeCursor, type Page } from "../services/pagination.js";
import type { ServiceWhere } from "../services/service-where.js";
import { builder } from "./builder.js";
import { perItem, pricedByPage } from "./cost.js";
import { ServiceRef, ServiceStatusEnum, ServiceStatusEventRef } from "./registry.js";

export const SelectionStrategyEnum = builder.enumType("SelectionStrategy", {
  values: selectionStrategies,
});

const ServiceEdge = builder.objectRef<ServiceRecord>("ServiceEdge").implement({
  fields: (t) => ({
    cursor: t.string({ resolve: (service) => encodeCursor(service.id) }),
    node: t.field({ type: ServiceRef, resolve: (service) => service }),
  }),
});

/** One page of services; `edges` and `pageInfo` are there for Relay clients. */
const ServiceConnection = builder.objectRef<Page<ServiceRecord>>("ServiceConnection").implement({
  fields: (t) => ({
    nodes: t.field({
      type: [ServiceRef],
      complexity: pricedByPage,
      resolve: (page) => page.nodes,
    }),
    edges: t.field({
      type: [ServiceEdge],
      complexity: pricedByPage,
      resolve: (page) => page.nodes,
    }),
    totalCount: t.exposeInt("totalCount", { description: "Matches across all pages." }),
    pageInfo: t.field({
      type: builder.pageInfoRef(),
      resolve: (page) => ({
        hasNextPage: page.hasNextPage,
        hasPreviousPage: false,
        startCursor: page.nodes[0] ? encodeCursor(page.nodes[0].id) : null,
        endCursor: page.endCursor,
      }),
    }),
  }),
});

const ServiceFilter = builder.inputType("ServiceFilter", {
  fields: (t) => ({
    type: t.string(),
    status: t.field({ type: [ServiceStatusEnum] }),
    capability: t.string(),
    tags: t.stringList({ description: "Services carrying every one of these tags." }),
    includeOffline: t.boolean({ description: "OFFLINE services are hidden unless true." }),
  }),
});

const StringMatch = builder.inputType("StringMatch", {
  description: "Every given operator must hold; contains and startsWith ignore case.",
  fields: (t) => ({
    eq: t.string(),
    in: t.stringList(),
    contains: t.string(),
    startsWith: t.string(),
  }),
});

const ListMatch = builder.inputType("ListMatch", {
  fields: (t) => ({
    all: t.stringList(),
    any: t.stringList(),
    none: t.stringList(),
  }),
});

const MetadataMatch = builder.inputType("MetadataMatch", {
  fields: (t) => ({
    path: t.string({ required: true, description: 'Dot-separated: "region", "limits.rpm".' }),
    eq: t.field({ type: "JSON" }),
    in: t.field({ type: ["JSON"] }),
    exists: t.boolean(),
  }),
});

const ServiceWhereRef = builder.inputRef<ServiceWhere>("ServiceWhere");
ServiceWhereRef.implement({
  description: "Complex search: every given field must hold.",
  fields: (t) => ({
    and: t.field({ type: [ServiceWhereRef] }),
    or: t.field({ type: [ServiceWhereRef] }),
    not: t.field({ type: ServiceWhereRef }),
    type: t.field({ type: StringMatch }),
    name: t.field({ type: StringMatch }),
    status: t.field({ type: [ServiceStatusEnum] }),
    capabilities: t.field({ type: ListMatch }),
    tags: t.field({ type: ListMatch }),
    version: t.string({ description: 'A semver range: "^1.2.0", ">=2 <3".' }),
    metadata: t.field({ type: [MetadataMatch] }),
    heartbeatWithinSeconds: t.int(),
  }),
});

builder.queryType({
  // Every caller a request gets this far as may read: tokens mode has authenticated it.
  authScopes: { read: true },
  fields: (t) => ({
    service: t.field({
      type: ServiceRef,
      nullable: true,
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, { id }, ctx) => ctx.services.discovery.get(String(id)),
    }),
    services: t.field({
      type: ServiceConnection,
      description: "Services by id, with index filters. OFFLINE ones only when asked for.",
      args: {
        filter: t.arg({ type: ServiceFilter }),
        first: t.arg.int({ defaultValue: 100 }),
        after: t.arg.string(),
      },
      complexity: ({ first }) => perItem(first, 100),
      resolve: (_root, { filter, first, after }, ctx) =>
        ctx.services.discovery.list(filter ?? {}, { first, after }),
    }),
    searchServices: t.field({
      type: ServiceConnection,
      args: {
        where: t.arg({ type: ServiceWhereRef, required: true }),
        first: t.arg.int({ defaultValue: 100 }),
        after: t.arg.string(),
      },
      complexity: ({ first }) => perItem(first, 100),
      resolve: (_root, { where, first, after }, ctx) =>
        ctx.services.discovery.search(where, { first, after }),
    }),
    serviceHistory: t.field({
      type: [ServiceStatusEventRef],
      description: "Status transitions of a service, newest first; kept after it is unregistered.",
      args: {
        id: t.arg.id({ required: true }),
        since: t.arg({ type: "DateTime" }),
        first: t.arg.int({ defaultValue: 50 }),
      },
      complexity: ({ first }) => perItem(first, 50),
      resolve: (_root, { id, since, first }, ctx) =>
        ctx.services.registry.history(String(id), { since, first }),
    }),
    serviceByType: t.field({
      type: ServiceRef,
      nullable: true,
      description: "One instance to call; null when none is ONLINE or DEGRADED.",
      args: {
        type: t.arg.string({ required: true }),
        strategy: t.arg({ type: SelectionStrategyEnum, defaultValue: DEFAULT_STRATEGY }),
      },
      resolve: (_root, { type, strategy }, ctx) => ctx.services.discovery.select(type, strategy),
    }),
  }),
});
