import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { BlockList, isIP } from "node:net";

/**
 * Addresses the gateway never calls on a registered service's behalf: link-local, where
 * cloud metadata services answer (169.254.169.254 hands out credentials). Private
 * networks stay reachable, since that is where a system's services live.
 */
const forbidden = new BlockList();
forbidden.addSubnet("169.254.0.0", 16, "ipv4");
forbidden.addSubnet("fe80::", 10, "ipv6");
forbidden.addAddress("fd00:ec2::254", "ipv6");
// The same IPv4 range written as IPv6: NAT64 (64:ff9b::/96) and IPv4-compatible (::/96).
forbidden.addSubnet("64:ff9b::a9fe:0", 112, "ipv6");
forbidden.addSubnet("::a9fe:0", 112, "ipv6");

function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return forbidden.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** Why a host may not be called, or null; for literal addresses (a name is checked at connect). */
export function forbiddenHost(hostname: string): string | null {
  const bare = hostname.replace(/^\[|\]$/g, "");
  return isForbiddenAddress(bare) ? `${bare} is a link-local address` : null;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * dns.lookup for the sockets that call services: a name that resolves to a forbidden
 * address fails to connect, however it was registered (checked at connect time, so a
 * name re-pointed later is caught too).
 */
export function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback) {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const allowed = addresses.filter((entry) => !isForbiddenAddress(entry.address));
    if (allowed.length === 0) {
      const refused = Object.assign(new Error(`${hostname} resolves to a link-local address`), {
        code: "EADDRNOTAVAIL",
      });
      return callback(refused, []);
    }
    if (options.all) return callback(null, allowed);
    const [first] = allowed as [LookupAddress];
    callback(null, first.address, first.family);
  });
}
