import { type Caller, deniedMessage, type Permission, permits } from "../domain/access.js";
import { GatewayError } from "../domain/errors.js";

/** Throws FORBIDDEN unless the caller holds one of `anyOf`. */
export function assertPermitted(caller: Caller, anyOf: readonly Permission[]): void {
  if (anyOf.some((permission) => permits(caller, permission))) return;
  throw new GatewayError("FORBIDDEN", deniedMessage(anyOf));
}

/**
 * Throws FORBIDDEN unless the caller may change a service owned by `owner`: its own
 * (or one nobody owns), or any with an admin token. A bearer token is never stored; its
 * sha-256 is the owner key, so nobody else can take an id over.
 */
export function assertMayChange(owner: string | null, caller: Caller, serviceId: string): void {
  if (owner === null || owner === caller.ownerKey || permits(caller, "overrideOwnership")) return;
  throw notOwner(serviceId);
}

export function notOwner(serviceId: string): GatewayError {
  return new GatewayError(
    "FORBIDDEN",
    `Service ${serviceId} was registered with another token; use that token or an admin token.`,
    { serviceId },
  );
}
