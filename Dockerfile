# Build stage: compile TypeScript with the dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The dashboard: bundled by esbuild into dist/dashboard, which the gateway serves at /.
COPY dashboard ./dashboard
COPY scripts/build-dashboard.mjs ./scripts/build-dashboard.mjs
RUN npm run build

# Runtime stage: production dependencies and the compiled gateway only.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Migrations are applied at start-up and the Redis stores load their Lua scripts when
# created; both sit beside dist/ where the code looks for them.
COPY drizzle ./drizzle
COPY lua ./lua
# Embedded PGlite keeps its files under here when no PostgreSQL is configured: mount a
# volume. A directory inside it, not the mount point, so a new cluster can be renamed in.
ENV DATA_DIR=/app/data/pglite
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
# Numeric (the image's `node` user), so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8090
# The slim image has no curl; Node 20's fetch does the probe. The start period covers a
# first start on embedded PGlite (a new cluster is initialised and migrated: 7.6 s on an
# idle 2-core machine, several times that on a busy one) or a wait for PostgreSQL, during
# which /health/ready says 503 and a failed probe must not count against the container.
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SERVICE_PORT||8090)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
