import { type Caller, deniedMessage, type Permission, permits } from "../domain/access.js";
import { GatewayError } from "../domain/errors.js";

/** Throws FORBIDDEN unless the caller holds one of `anyOf`. */
export function assertPermitted(caller: Caller, anyOf: readonly Permission[]): void {
  if (anyOf.some((permission) => permits(caller, permission))) return;
  throw new GatewayError("FORBIDDEN", deniedMessage(anyOf));
}

/**
 * Throws FORBIDDEN unless the caller may change a service owned by `owner`: its own, or
 * any with an admin token. A bearer token is never stored; its sha-256 is the owner key,
 * so nobody else can take an id over. A service registered without a token (in open
 * mode, or before tokens were configured) is anyone's in open mode and an admin's in
 * tokens mode, so the first service token to ask cannot claim it.
 */
export function assertMayChange(owner: string | null, caller: Caller, serviceId: string): void {
  if (owner === null ? caller.mode === "open" : owner === caller.ownerKey) return;
  if (permits(caller, "overrideOwnership")) return;
  throw notOwner(serviceId, owner);
}

export function notOwner(serviceId: string, owner: string | null = ""): GatewayError {
  return new GatewayError(
    "FORBIDDEN",
    owner === null
      ? `Service ${serviceId} was registered without a token; only an admin token may change it now.`
      : `Service ${serviceId} was registered with another token; use that token or an admin token.`,
    { serviceId },
  );
}
