import { defineConfig } from "drizzle-kit";

/** `npm run db:generate` writes migrations for src/db/schema.ts into drizzle/ (no database needed). */
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
  casing: "snake_case",
});
