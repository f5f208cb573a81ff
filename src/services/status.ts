import { badInput } from "../errors.js";
import { type ServiceStatus, serviceStatuses } from "./model.js";

function isServiceStatus(value: string): value is ServiceStatus {
  return (serviceStatuses as readonly string[]).includes(value);
}

/** Accepts any case ("online"), as the seed's REST API did; rejects everything else. */
export function parseStatus(value: string, field: string): ServiceStatus {
  const upper = value.trim().toUpperCase();
  if (isServiceStatus(upper)) return upper;
  throw badInput(field, `must be one of ${serviceStatuses.join(", ")}`);
}
