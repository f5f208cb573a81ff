// Every GraphQL document the dashboard sends. test/dashboard/operations.test.ts validates
// each against schema.graphql, so a renamed field fails the tests, not the browser.

const SERVICE_ROW = `id name type version status lastHeartbeat
  health { latencyMs checkedAt }
  circuitBreaker { serviceId state consecutiveFailures lastStateChangeAt }`;

const EXECUTION = `id workflowType definitionVersion status startedAt finishedAt executionTimeMs
  errors result
  steps { id name serviceType serviceId status attempt startedAt finishedAt durationMs output error }`;

const EXECUTION_SUMMARY = `id workflowType status startedAt finishedAt executionTimeMs
  steps { id status }`;

const SUPERGRAPH = `status composedAt errors warnings sdl
  subgraphs { type kind version instances callable }`;

export const operations = {
  viewer: "query Viewer { viewer { mode role tokenName permissions } }",
  services: `query Services($after: String) {
    services(filter: { includeOffline: true }, first: 500, after: $after) {
      nodes { ${SERVICE_ROW} }
      pageInfo { hasNextPage endCursor }
    }
  }`,
  systemHealth: `query SystemHealth { systemHealth {
    status reasons warnings checkedAt
    counts { online degraded maintenance offline }
    selfPreservation { active since held }
  } }`,
  service: `query Service($id: ID!) {
    service(id: $id) {
      ${SERVICE_ROW}
      baseUrl healthCheckUrl registeredAt heartbeatIntervalSeconds ttlSeconds
      capabilities tags metadata
      endpoints { method path description }
      health { status reachable httpStatus latencyMs checkedAt error }
      recentHealthChecks(first: 20) { status reachable httpStatus latencyMs checkedAt error }
    }
    serviceHistory(id: $id, first: 30) { previousStatus status reason at }
  }`,
  registryChanged: `subscription RegistryChanged { registryChanged {
    change at service { ${SERVICE_ROW} }
  } }`,
  serviceStatusChanged: `subscription StatusChanged { serviceStatusChanged {
    previousStatus status reason at service { ${SERVICE_ROW} }
  } }`,
  circuitBreakerChanged: `subscription BreakerChanged { circuitBreakerChanged {
    serviceId state at breaker { serviceId state consecutiveFailures lastStateChangeAt }
  } }`,
  setStatus: `mutation SetStatus($id: ID!, $status: ServiceStatus!) {
    updateServiceStatus(id: $id, status: $status) { id status }
  }`,
  unregister: "mutation Unregister($id: ID!) { unregisterService(id: $id) }",
  resetBreaker: `mutation ResetBreaker($id: ID!) { resetCircuitBreaker(serviceId: $id) { state } }`,
  isolateBreaker: `mutation IsolateBreaker($id: ID!) {
    isolateCircuitBreaker(serviceId: $id) { state }
  }`,
  executions: `query Executions {
    workflowExecutions(first: 50) { ${EXECUTION_SUMMARY} }
  }`,
  executionsChanged: `subscription ExecutionsChanged {
    workflowExecutionsChanged { ${EXECUTION_SUMMARY} }
  }`,
  execution: `query Execution($id: ID!) {
    workflowExecution(id: $id) { ${EXECUTION} }
    workflowDefinitions { type version definition }
  }`,
  executionUpdated: `subscription ExecutionUpdated($id: ID!) {
    workflowExecutionUpdated(id: $id) { ${EXECUTION} }
  }`,
  cancelWorkflow: `mutation CancelWorkflow($id: ID!) { cancelWorkflow(id: $id) { id status } }`,
  supergraph: `query Supergraph { supergraph { ${SUPERGRAPH} } }`,
  supergraphChanged: `subscription SupergraphChanged { supergraphChanged {
    at supergraph { ${SUPERGRAPH} }
  } }`,
} as const;
