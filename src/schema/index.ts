import "./scalars.js";
import "./registry.js";
import "./discovery.js";
import "./watch.js";
import "./health.js";
import "./breakers.js";
import "./calls.js";
import "./workflows.js";
import "./access.js";
import "./audit.js";
import "./federation.js";
import { builder } from "./builder.js";

/** The gateway's GraphQL schema; domain files register their types on import. */
export const schema = builder.toSchema({ sortSchema: false });
