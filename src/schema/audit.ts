import type { AuditActor, StoredAuditEntry } from "../domain/audit.js";
import { type AuditPage, encodeAuditCursor } from "../services/audit.js";
import { builder } from "./builder.js";
import { perItem, pricedByPage } from "./cost.js";

const AuditActorRef = builder.objectRef<AuditActor>("AuditActor").implement({
  description: "Who made a change: a token, or an anonymous caller known by address.",
  fields: (t) => ({
    tokenId: t.exposeID("tokenId", { nullable: true, description: "Null when anonymous." }),
    name: t.exposeString("name", { nullable: true, description: "The token's name." }),
    role: t.exposeString("role", { nullable: true }),
    address: t.exposeString("address", { nullable: true, description: "The client's address." }),
  }),
});

const AuditEntryRef = builder.objectRef<StoredAuditEntry>("AuditEntry").implement({
  description: "One mutation, over GraphQL or REST.",
  fields: (t) => ({
    id: t.id({ resolve: (entry) => String(entry.id) }),
    at: t.expose("at", { type: "DateTime" }),
    actor: t.field({ type: AuditActorRef, resolve: (entry) => entry.actor }),
    transport: t.exposeString("transport", { description: "`graphql` or `rest`." }),
    operation: t.exposeString("operation", {
      description:
        "The mutation field (`registerService`) or the route (`PUT /registry/services/{id}/status`).",
    }),
    targets: t.exposeStringList("targets", {
      description: "Ids it acted on: services, executions, tokens, workflow types.",
    }),
    result: t.exposeString("result", { description: "`ok`, or the error code it ended with." }),
    requestId: t.exposeString("requestId", { nullable: true }),
  }),
});

const AuditEntryEdge = builder.objectRef<StoredAuditEntry>("AuditEntryEdge").implement({
  fields: (t) => ({
    cursor: t.string({ resolve: (entry) => encodeAuditCursor(entry.id) }),
    node: t.field({ type: AuditEntryRef, resolve: (entry) => entry }),
  }),
});

/** Newest first. No totalCount: counting the whole log on every page would cost a scan. */
const AuditEntryConnection = builder.objectRef<AuditPage>("AuditEntryConnection").implement({
  fields: (t) => ({
    nodes: t.field({
      type: [AuditEntryRef],
      complexity: pricedByPage,
      resolve: (page) => page.nodes,
    }),
    edges: t.field({
      type: [AuditEntryEdge],
      complexity: pricedByPage,
      resolve: (page) => page.nodes,
    }),
    pageInfo: t.field({
      type: builder.pageInfoRef(),
      resolve: (page) => ({
        hasNextPage: page.hasNextPage,
        hasPreviousPage: false,
        startCursor: page.nodes[0] ? encodeAuditCursor(page.nodes[0].id) : null,
        endCursor: page.endCursor,
      }),
    }),
  }),
});

builder.queryFields((t) => ({
  auditLog: t.field({
    type: AuditEntryConnection,
    authScopes: { readAudit: true },
    description:
      "Every mutation, newest first (admin, operator). Kept AUDIT_RETENTION_DAYS; an entry appears within moments of its request.",
    args: {
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string(),
      actor: t.arg.string({
        description: "A token id or name, or the address of an anonymous caller.",
      }),
      target: t.arg.string({ description: "An id the operation acted on." }),
    },
    complexity: ({ first }) => perItem(first, 50),
    resolve: (_root, args, ctx) => ctx.services.audit.list(args),
  }),
}));
