/** B_list: yoga + Pothos serving a list of 20 objects of 8 fields from memory. */
import { createServer } from "node:http";
import SchemaBuilder from "@pothos/core";
import { createYoga } from "graphql-yoga";
import { announce, portOf } from "./ready.js";

type Item = {
  id: string;
  name: string;
  type: string;
  version: string;
  baseUrl: string;
  status: string;
  lastHeartbeat: string;
  tags: string[];
};

const items: Item[] = Array.from({ length: 20 }, (_, i) => ({
  id: `item-${i}`,
  name: `item ${i}`,
  type: "PLANNING_SYSTEM",
  version: "1.0.0",
  baseUrl: `http://item-${i}.internal:8000`,
  status: "ONLINE",
  lastHeartbeat: new Date().toISOString(),
  tags: ["eu", "primary"],
}));

// Pothos plugin options are global types; this builder lists no plugins, so none run.
const builder = new SchemaBuilder<{ DefaultFieldNullability: false }>({
  defaultFieldNullability: false,
} as ConstructorParameters<typeof SchemaBuilder<{ DefaultFieldNullability: false }>>[0]);
const ItemRef = builder.objectRef<Item>("Item").implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    type: t.exposeString("type"),
    version: t.exposeString("version"),
    baseUrl: t.exposeString("baseUrl"),
    status: t.exposeString("status"),
    lastHeartbeat: t.exposeString("lastHeartbeat"),
    tags: t.exposeStringList("tags"),
  }),
});
builder.queryType({
  fields: (t) => ({ items: t.field({ type: [ItemRef], resolve: () => items }) }),
});

const yoga = createYoga({
  schema: builder.toSchema(),
  maxRequestBodySize: false,
  landingPage: false,
  graphiql: false,
  logging: false,
});
const server = createServer(yoga);
server.listen(0, "127.0.0.1", () => announce(portOf(server)));
