/**
 * What GraphiQL opens on: one overview of the gateway (statuses, breakers, the latest
 * workflow executions) and a live feed of status changes, as named operations so ▶ offers
 * both. `npm run demo` fills every list; on an empty gateway they are empty, not errors.
 * The README's walkthrough starts with the same text, and test/demo runs it on the demo.
 */
export const STARTER_OPERATIONS = `query Overview {
  systemHealth {
    status
    reasons
  }
  services(filter: { includeOffline: true }, first: 20) {
    totalCount
    nodes {
      id
      type
      status
      lastHeartbeat
    }
  }
  circuitBreakers {
    serviceId
    state
    consecutiveFailures
  }
  workflowExecutions(first: 3) {
    id
    workflowType
    status
    startedAt
    executionTimeMs
  }
}

subscription StatusChanges {
  serviceStatusChanged {
    service {
      id
    }
    previousStatus
    status
    reason
    at
  }
}
`;

const HOW_TO = `# Press ▶ and pick Overview: every service's status, the circuit breakers and the
# latest workflow executions. StatusChanges streams each status change as it happens.
# Nothing registered yet? \`npm run demo\` starts a gateway with six demo services.
`;

const OPEN_MODE = `# This gateway is in OPEN MODE: no token is configured, so every caller may do
# everything (only an id registered with a bearer token stays that token's).
# Configure ADMIN_TOKEN or AUTH_TOKENS before it leaves a developer's machine.
#
`;

const TOKENS_MODE = `# Every request needs a bearer token: add {"Authorization": "Bearer <token>"}
# under Headers below.
#
`;

/** GraphiQL's default query in open or tokens mode. */
export function starterQuery(mode: "open" | "tokens"): string {
  return `${mode === "open" ? OPEN_MODE : TOKENS_MODE}${HOW_TO}\n${STARTER_OPERATIONS}`;
}
