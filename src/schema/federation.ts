import { Repeater, SlidingBuffer } from "graphql-yoga";
import {
  type SubgraphSummary,
  type SupergraphChange,
  type SupergraphSnapshot,
  supergraphStatuses,
} from "../domain/federation.js";
import { builder } from "./builder.js";
import { GraphQLApiKindEnum } from "./registry.js";

const SupergraphStatusEnum = builder.enumType("SupergraphStatus", {
  description:
    "EMPTY: nothing composed yet. COMPOSED: the last composition succeeded and serves. FAILED: the last composition failed; the last good supergraph (if any) serves.",
  values: supergraphStatuses,
});

const SubgraphRef = builder.objectRef<SubgraphSummary>("Subgraph").implement({
  description: "A service type in the supergraph: the subgraph named after it.",
  fields: (t) => ({
    type: t.exposeString("type", { description: "The service type, which names the subgraph." }),
    kind: t.expose("kind", { type: GraphQLApiKindEnum }),
    version: t.exposeString("version", { description: "The version whose SDL was composed." }),
    instances: t.exposeInt("instances", {
      description: "Registered instances of the type that declare a GraphQL API.",
    }),
    callable: t.exposeInt("callable", {
      description: "Of those, the ones a fetch may go to now (status and breaker).",
    }),
  }),
});

const SupergraphRef = builder.objectRef<SupergraphSnapshot>("Supergraph").implement({
  description:
    "The federated graph, composed from the service types that declare a GraphQL API and have a healthy instance.",
  fields: (t) => ({
    status: t.expose("status", { type: SupergraphStatusEnum }),
    sdl: t.exposeString("sdl", {
      nullable: true,
      description: "The supergraph serving now; null before the first successful composition.",
    }),
    composedAt: t.expose("composedAt", {
      type: "DateTime",
      nullable: true,
      description: "When the serving supergraph was composed.",
    }),
    errors: t.exposeStringList("errors", {
      description: "Why the last composition failed; empty when it succeeded.",
    }),
    warnings: t.exposeStringList("warnings", {
      description:
        "Non-null fields a type owns on shared types: its outage would null their parents.",
    }),
    subgraphs: t.field({ type: [SubgraphRef], resolve: (graph) => graph.subgraphs }),
  }),
});

const SupergraphChangeRef = builder.objectRef<SupergraphChange>("SupergraphChange").implement({
  description: "A composition, successful or not, and the supergraph serving after it.",
  fields: (t) => ({
    supergraph: t.field({ type: SupergraphRef, resolve: (change) => change.supergraph }),
    at: t.expose("at", { type: "DateTime" }),
  }),
});

builder.queryFields((t) => ({
  supergraph: t.field({
    type: SupergraphRef,
    description:
      "The federated graph this gateway serves (at FEDERATION_PATH), and how it was composed.",
    resolve: (_root, _args, ctx) => ctx.services.supergraph.snapshot(),
  }),
}));

builder.subscriptionFields((t) => ({
  supergraphChanged: t.field({
    type: SupergraphChangeRef,
    description: "Every composition on this replica (each replica composes from the registry).",
    subscribe: (_root, _args, ctx) =>
      new Repeater<SupergraphChange>(async (push, stop) => {
        const unsubscribe = ctx.services.supergraph.onChange((change) => void push(change));
        await stop;
        unsubscribe();
      }, new SlidingBuffer(100)),
    resolve: (change) => change,
  }),
}));
