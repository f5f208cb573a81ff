/** B_yoga: graphql-yoga answering `{ hello }`, with the gateway's yoga options. */
import { createServer } from "node:http";
import { createSchema, createYoga } from "graphql-yoga";
import { announce, portOf } from "./ready.js";

const yoga = createYoga({
  schema: createSchema({
    typeDefs: "type Query { hello: String! }",
    resolvers: { Query: { hello: () => "world" } },
  }),
  maxRequestBodySize: false,
  landingPage: false,
  graphiql: false,
  logging: false,
});
const server = createServer(yoga);
server.listen(0, "127.0.0.1", () => announce(portOf(server)));
