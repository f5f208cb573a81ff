/** `npm run db:migrate`: applies drizzle/ to the configured database (the gateway does it at start too). */
import { loadConfig } from "../src/config.js";
import { openDatabase } from "../src/db/client.js";

const database = await openDatabase(loadConfig().database);
try {
  await database.migrate();
  console.log(`migrations applied (${database.kind})`);
} finally {
  await database.close();
}
