import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

/** The dashboard in Debian's chromium, and the demo as a user runs it. */
export const E2E_SUITES = ["test/dashboard/browser.test.ts", "test/demo/**/*.test.ts"];

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) builds without an exports map. Node
    // loads the CJS one for yoga and Pothos; Vite would pick the ESM one for our
    // sources, and two copies of graphql break every `instanceof GraphQLError`.
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // The fault-injection suites run on their own (`npm run test:faults`), and so do the
    // end-to-end ones that drive whole processes and a browser (`npm run test:e2e`):
    // together they would take npm test past five minutes on two cores.
    exclude: ["test/faults/**", ...E2E_SUITES],
    // Every file starts its own PGlite (3.5 s of WebAssembly start-up on an idle 2-core
    // machine, several times that beside other work) before its first gateway: a
    // deadline is only there to stop a test that hangs, and must not fail a slow one.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file starts its own gateways on port 0; two cores run two files at once.
    maxWorkers: 2,
  },
});
