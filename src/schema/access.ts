import { roles } from "../domain/access.js";
import type { ApiToken, Viewer } from "../services/access.js";
import { builder } from "./builder.js";

const RoleEnum = builder.enumType("Role", {
  description:
    "admin: everything. operator: status of any service, breakers, executing and cancelling workflows, the audit log. service: its own registrations, discovery, calls to declared endpoints, executing workflows. reader: queries and subscriptions.",
  values: Object.fromEntries(roles.map((role) => [role.toUpperCase(), { value: role }])),
});

const ApiTokenRef = builder.objectRef<ApiToken>("ApiToken").implement({
  description: "A bearer token; its secret is shown once, when it is made, and never stored.",
  fields: (t) => ({
    id: t.exposeID("id", { description: "`config:<name>` for a token from the environment." }),
    name: t.exposeString("name"),
    role: t.expose("role", { type: RoleEnum }),
    serviceTypes: t.exposeStringList("serviceTypes", {
      nullable: true,
      description: "The only service types a service token may register; null: any.",
    }),
    source: t.exposeString("source", {
      description:
        "`api` (createApiToken) or `config` (ADMIN_TOKEN, AUTH_TOKENS, AUTH_TOKENS_FILE).",
    }),
    createdBy: t.exposeString("createdBy", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
  }),
});

const CreatedApiTokenRef = builder
  .objectRef<{ token: ApiToken; secret: string }>("CreatedApiToken")
  .implement({
    fields: (t) => ({
      token: t.field({ type: ApiTokenRef, resolve: (created) => created.token }),
      secret: t.exposeString("secret", {
        description: "Send as `Authorization: Bearer <secret>`. Shown here only: keep it now.",
      }),
    }),
  });

const AccessModeEnum = builder.enumType("AccessMode", {
  description: "open: no token is configured, everyone may do everything. tokens: a role decides.",
  values: { OPEN: { value: "open" }, TOKENS: { value: "tokens" } } as const,
});

const ViewerRef = builder.objectRef<Viewer>("Viewer").implement({
  description: "The caller of this request, so a client shows only what it may do.",
  fields: (t) => ({
    mode: t.expose("mode", { type: AccessModeEnum }),
    role: t.expose("role", {
      type: RoleEnum,
      nullable: true,
      description: "Null for an anonymous caller in open mode.",
    }),
    tokenName: t.exposeString("tokenName", { nullable: true }),
    permissions: t.exposeStringList("permissions", {
      description:
        "The permissions the caller holds: `read`, `operateBreakers`, `changeAnyStatus`, …",
    }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: ViewerRef,
    description: "Who is asking and what it may do (the dashboard shows only those actions).",
    resolve: (_root, _args, ctx) => ctx.services.access.viewer(ctx.caller),
  }),
  apiTokens: t.field({
    type: [ApiTokenRef],
    authScopes: { manageTokens: true },
    description: "Every token, from the environment and from createApiToken (admin).",
    resolve: (_root, _args, ctx) => ctx.services.access.list(),
  }),
}));

builder.mutationFields((t) => ({
  createApiToken: t.field({
    type: CreatedApiTokenRef,
    authScopes: { manageTokens: true },
    description: "Makes a token (admin). It works on every replica within a second.",
    args: {
      role: t.arg({ type: RoleEnum, required: true }),
      name: t.arg.string({ required: true }),
      serviceTypes: t.arg.stringList({
        description: "For a service token: the only types it may register.",
      }),
      expiresAt: t.arg({ type: "DateTime" }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.access.createToken(
        {
          role: args.role,
          name: args.name,
          serviceTypes: args.serviceTypes ?? null,
          expiresAt: args.expiresAt ?? null,
        },
        ctx.caller,
      ),
  }),
  revokeApiToken: t.field({
    type: ApiTokenRef,
    authScopes: { manageTokens: true },
    description:
      "Revokes a token (admin): it stops working on every replica within a second, and WebSockets opened with it are closed (4403).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.access.revokeToken(String(id)),
  }),
}));
