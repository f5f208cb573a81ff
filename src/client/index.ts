// The package's ./client entry: what a service needs to join and use the gateway. It
// imports nothing of the gateway but domain/ types and rules, so it runs inside other
// services.
export {
  type AgentState,
  createServiceAgent,
  type ServiceAgent,
  type ServiceAgentOptions,
} from "./agent.js";
export { GatewayClientError, isGatewayClientError } from "./errors.js";
export {
  createGatewayClient,
  type GatewayClient,
  type GatewayClientOptions,
  type SubscriptionHandlers,
  type WatchRegistryOptions,
} from "./gateway-client.js";
export type {
  CallServiceInput,
  ExecuteWorkflowInput,
  RegisterServiceInput,
  RegistryEvent,
  ReportedStatus,
  SelectionStrategy,
  Service,
  ServiceCallResult,
  ServiceStatus,
  WorkflowExecution,
  WorkflowStatus,
} from "./types.js";
