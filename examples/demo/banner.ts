import type { RegisterServiceInput } from "../../src/client/index.js";

export type BannerFacts = {
  gatewayUrl: string;
  /** The gateway's token, in tokens mode; open mode without. */
  token: string | undefined;
  services: RegisterServiceInput[];
  execution: { id: string; workflowType: string } | null;
  dataDir: string;
  secondsToLive: number;
};

/** What the demo started, where to look, and what to try. */
export function banner(facts: BannerFacts): string {
  const { gatewayUrl: url } = facts;
  const access = facts.token
    ? 'Tokens mode (ADMIN_TOKEN is set): add {"Authorization": "Bearer <ADMIN_TOKEN>"} under GraphiQL\'s Headers.'
    : "OPEN MODE: no token is configured, so every caller may do everything. ADMIN_TOKEN=<16+ chars> npm run demo for tokens mode.";
  const services = facts.services.map((s) => `${s.id} (${s.type})`).join(", ");
  return [
    "",
    `Service Integration Gateway demo: live ${facts.secondsToLive.toFixed(1)} s after start`,
    "",
    `  GraphiQL         ${url}/graphql   (opens on a starter query: press ▶)`,
    `  federated graph  ${url}/federation/graphql`,
    `  REST API docs    ${url}/docs`,
    "",
    `  registered   ${services}`,
    "  flaky-1      flaps every 6 s (DEGRADED, OFFLINE, ONLINE); the demo calls it every second, so its breaker opens",
    facts.execution
      ? `  workflow     ${facts.execution.workflowType} ${facts.execution.id} started; COMPLETED in about 5 s`
      : "  workflow     none started (see the messages above)",
    "",
    `  ${access}`,
    `  Data: ${facts.dataDir} (kept between runs; delete it to start afresh). Ctrl-C stops everything.`,
    '  Next: the README\'s walkthrough, "Try it in GraphiQL".',
    "",
  ].join("\n");
}
