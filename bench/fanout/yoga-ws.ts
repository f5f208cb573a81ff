/** B_ws: graphql-yoga + graphql-ws fan-out of an in-memory pub/sub event to every subscriber. */
import { createServer } from "node:http";
import { useServer } from "graphql-ws/use/ws";
import { createPubSub, createSchema, createYoga } from "graphql-yoga";
import { WebSocketServer } from "ws";
import { announce, portOf } from "../servers/ready.js";

const pubsub = createPubSub<{ tick: [{ at: string }] }>();
const yoga = createYoga({
  schema: createSchema({
    typeDefs:
      "type Query { ok: Boolean } type Tick { at: String! } type Subscription { tick: Tick! }",
    resolvers: {
      Subscription: {
        tick: { subscribe: () => pubsub.subscribe("tick"), resolve: (tick: unknown) => tick },
      },
    },
  }),
  graphiql: false,
  logging: false,
});
const server = createServer((req, res) => {
  if (req.method === "POST" && req.url === "/publish") {
    pubsub.publish("tick", { at: new Date().toISOString() });
    res.writeHead(204).end();
    return;
  }
  yoga(req, res);
});
const wss = new WebSocketServer({ server, path: "/graphql" });
useServer(
  {
    execute: (args) => (args.rootValue as { execute: (a: unknown) => never }).execute(args),
    subscribe: (args) => (args.rootValue as { subscribe: (a: unknown) => never }).subscribe(args),
    onSubscribe: async (ctx, _id, payload) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        params: payload,
      });
      const document = parse(payload.query);
      const errors = validate(schema, document);
      if (errors.length > 0) return errors;
      return {
        schema,
        document,
        operationName: payload.operationName,
        variableValues: payload.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe },
      };
    },
  },
  wss,
);
server.listen(0, "127.0.0.1", () => announce(portOf(server)));
