/**
 * `print` writes schema.graphql from the Pothos schema; `check` fails when the file is
 * out of date, so the committed contract never drifts from the code.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { printSchema } from "graphql";
import { schema } from "../src/schema/index.js";

const file = fileURLToPath(new URL("../schema.graphql", import.meta.url));
const printed = `${printSchema(schema)}\n`;
const mode = process.argv[2];

if (mode === "print") {
  writeFileSync(file, printed);
  console.log(`wrote ${file}`);
} else if (mode === "check") {
  const current = readFileSync(file, "utf8");
  if (current !== printed) {
    console.error("schema.graphql is out of date: run `npm run schema:print` and commit it.");
    process.exit(1);
  }
  console.log("schema.graphql is up to date");
} else {
  console.error("usage: tsx scripts/schema.ts print|check");
  process.exit(2);
}
