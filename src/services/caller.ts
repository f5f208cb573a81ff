import { createHash, timingSafeEqual } from "node:crypto";
import { GatewayError } from "../domain/errors.js";

/**
 * Who is calling. A bearer token is never stored: its sha-256 is the owner key that
 * ties a registered id to whoever registered it, so nobody else can hijack the id.
 */
export type Caller = { ownerKey: string | null; isAdmin: boolean };

export const anonymousCaller: Caller = { ownerKey: null, isAdmin: false };

export function callerFromAuthorization(
  authorization: string | null | undefined,
  adminToken: string | null,
): Caller {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
  if (!token) return anonymousCaller;
  return {
    ownerKey: createHash("sha256").update(token).digest("hex"),
    isAdmin: adminToken !== null && sameSecret(token, adminToken),
  };
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Throws FORBIDDEN unless the caller may change a service owned by `owner`. */
export function assertMayChange(owner: string | null, caller: Caller, serviceId: string): void {
  if (owner === null || caller.isAdmin || owner === caller.ownerKey) return;
  throw notOwner(serviceId);
}

export function notOwner(serviceId: string): GatewayError {
  return new GatewayError(
    "FORBIDDEN",
    `Service ${serviceId} was registered with another token; use that token or an admin token.`,
    { serviceId },
  );
}
