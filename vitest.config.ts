import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) builds without an exports map. Node
    // loads the CJS one for yoga and Pothos; Vite would pick the ESM one for our
    // sources, and two copies of graphql break every `instanceof GraphQLError`.
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // The fault-injection suites run on their own: `npm run test:faults`.
    exclude: ["test/faults/**"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Each file starts its own gateways on port 0; two cores run two files at once.
    maxWorkers: 2,
  },
});
