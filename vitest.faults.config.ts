import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

/**
 * The fault-injection and hostile-input suites (`npm run test:faults`). They start and
 * kill their own Redis and PostgreSQL servers, so they run apart from `npm test`, one
 * file at a time, with room for outages and restarts.
 */
export default defineConfig({
  // The one copy of graphql, as in vitest.config.ts.
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }] },
  test: {
    include: ["test/faults/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
