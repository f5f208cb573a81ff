/**
 * One load run, in its own process so the runner can pin it to a core of its own.
 * argv[2]: JSON { port, scenario, connections, durationSeconds }; prints one JSON result.
 */
import autocannon from "autocannon";
import { BENCH_TOKEN } from "./token.js";

export type LoadRequest = {
  port: number;
  scenario: string;
  connections: number;
  durationSeconds: number;
};
export type LoadResult = {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  graphqlErrors: number;
};

const SERVICE_FIELDS = "id name type version baseUrl status lastHeartbeat tags";

/** Each scenario's next body; ids and types rotate so no one record is hot. */
const scenarios: Record<string, () => unknown> = {
  hello: () => ({ query: "{ hello }" }),
  list: () => ({ query: `{ items { ${SERVICE_FIELDS} } }` }),
  discovery: (() => {
    let n = 0;
    return () => ({
      query: `query($type: String!) { services(filter: { type: $type }) { nodes { ${SERVICE_FIELDS} } } }`,
      variables: { type: `TYPE_${n++ % 50}` },
    });
  })(),
  heartbeat: (() => {
    let n = 0;
    return () => ({
      query: "mutation($id: ID!) { heartbeat(id: $id) { id status lastHeartbeat } }",
      variables: { id: `svc-${n % 50}-${Math.floor(n++ / 50) % 20}` },
    });
  })(),
  // Upserts over 5,000 ids: the first pass inserts, later ones update, as restarting
  // services do. Unbounded new ids would grow the registry across rounds without end.
  register: (() => {
    let n = 0;
    return () => ({
      query:
        "mutation($input: RegisterServiceInput!) { registerService(input: $input) { id status registeredAt } }",
      variables: {
        input: {
          id: `bench-${n++ % 5000}`,
          name: "bench service",
          type: "bench_type",
          version: "1.0.0",
          baseUrl: "http://bench.internal:8000",
          tags: ["bench"],
          metadata: { region: "eu-west-1" },
        },
      },
    });
  })(),
};

const request = JSON.parse(process.argv[2] ?? "{}") as LoadRequest;
const next = scenarios[request.scenario];
if (!next) throw new Error(`unknown scenario ${request.scenario}`);

let graphqlErrors = 0;
const result = await autocannon({
  url: `http://127.0.0.1:${request.port}`,
  connections: request.connections,
  duration: request.durationSeconds,
  requests: [
    {
      method: "POST",
      path: "/graphql",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        authorization: `Bearer ${BENCH_TOKEN}`,
      },
      setupRequest: (req) => ({ ...req, body: JSON.stringify(next()) }),
      onResponse: (_status, body) => {
        if (body.includes('"errors"')) graphqlErrors += 1;
      },
    },
  ],
});
const out: LoadResult = {
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  errors: result.errors,
  non2xx: result.non2xx,
  graphqlErrors,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
