import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";
import { E2E_SUITES } from "./vitest.config.js";

const require = createRequire(import.meta.url);

/**
 * The end-to-end suites (`npm run test:e2e`): the dashboard in a real browser against a
 * real gateway, and `npm run demo` as a user runs it, every README walkthrough operation
 * against it. Each drives whole processes, so they run apart from `npm test`.
 */
export default defineConfig({
  // The one copy of graphql, as in vitest.config.ts.
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }] },
  test: {
    include: E2E_SUITES,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    maxWorkers: 2,
  },
});
