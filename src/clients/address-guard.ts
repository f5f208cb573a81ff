import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { BlockList, isIP } from "node:net";
import { createHostAllowlist } from "../lib/host-allowlist.js";

/**
 * Addresses the gateway never calls on a registered service's behalf: link-local, where
 * cloud metadata services answer (169.254.169.254 hands out credentials). Private
 * networks stay reachable, since that is where a system's services live. This holds
 * whatever ALLOWED_SERVICE_HOSTS says: no entry can let these in.
 */
const linkLocal = new BlockList();
linkLocal.addSubnet("169.254.0.0", 16, "ipv4");
linkLocal.addSubnet("fe80::", 10, "ipv6");
linkLocal.addAddress("fd00:ec2::254", "ipv6");
// The same IPv4 range written as IPv6: NAT64 (64:ff9b::/96) and IPv4-compatible (::/96).
linkLocal.addSubnet("64:ff9b::a9fe:0", 112, "ipv6");
linkLocal.addSubnet("::a9fe:0", 112, "ipv6");

function isLinkLocal(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return linkLocal.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** Why a host is not called: which rule refused it, and a sentence naming the host. */
export type HostRefusal = {
  host: string;
  rule: "link-local" | "not-allowed";
  message: string;
};

/**
 * A target the gateway refuses to call, from the literal check or from the lookup after
 * DNS. Its code is the one the link-local refusal always had, so what callers and probe
 * results show stays the same; the class lets the service client tell it apart from a
 * network failure without reading the message.
 */
export class AddressRefusedError extends Error {
  readonly code = "EADDRNOTAVAIL";
  constructor(message: string) {
    super(message);
    this.name = "AddressRefusedError";
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

export type AddressPolicy = {
  /**
   * What can be refused before any DNS: a link-local literal, a literal outside
   * ALLOWED_SERVICE_HOSTS, or a name that no entry could let in (no name or glob
   * matches, and there is no literal or CIDR entry its addresses could match). Null
   * otherwise, which for a name only means "decided at connect time".
   */
  forbiddenHost(hostname: string): HostRefusal | null;
  /** dns.lookup for the undici Agents that call and probe services. */
  lookup(hostname: string, options: LookupOptions, callback: LookupCallback): void;
};

/**
 * The outbound rule, built from ALLOWED_SERVICE_HOSTS (empty: any host). A host is called
 * when its NAME matches a name or glob entry, whatever it resolves to, OR when it is an
 * address (a literal, or every address its name resolves to) that matches a literal or
 * CIDR entry. A name entry is the operator vouching for that name and whoever runs its
 * DNS; a CIDR entry vouches for a network, so a name outside the name entries is let in
 * only when all of its addresses are inside one. Link-local is refused in every case.
 */
export function createAddressPolicy({
  allowedHosts = [],
}: {
  allowedHosts?: readonly string[];
} = {}): AddressPolicy {
  const allowlist = createHostAllowlist(allowedHosts);

  function forbiddenHost(hostname: string): HostRefusal | null {
    const host = hostname.replace(/^\[|\]$/g, "");
    if (isIP(host) !== 0) {
      if (isLinkLocal(host)) {
        return { host, rule: "link-local", message: `${host} is a link-local address` };
      }
      if (allowlist.restricts && !allowlist.allowsAddress(host)) {
        return { host, rule: "not-allowed", message: `${host} is not in ALLOWED_SERVICE_HOSTS` };
      }
      return null;
    }
    if (allowlist.restricts && !allowlist.allowsName(host) && !allowlist.hasAddressEntries) {
      return { host, rule: "not-allowed", message: `${host} is not in ALLOWED_SERVICE_HOSTS` };
    }
    return null;
  }

  /**
   * Checked at connect time, after DNS, so a name re-pointed after registration is caught
   * too. Link-local answers are dropped and the rest used, as before the allow-list
   * existed; a name let in only by its addresses must have every remaining one inside
   * the list, since a name that answers partly outside is not one the list vouches for.
   */
  function lookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const callable = addresses.filter((entry) => !isLinkLocal(entry.address));
      if (callable.length === 0) {
        return callback(
          new AddressRefusedError(`${hostname} resolves to a link-local address`),
          [],
        );
      }
      if (allowlist.restricts && !allowlist.allowsName(hostname)) {
        const outside = callable.find((entry) => !allowlist.allowsAddress(entry.address));
        if (outside) {
          const refused = new AddressRefusedError(
            `${hostname} resolves to ${outside.address}, which is not in ALLOWED_SERVICE_HOSTS`,
          );
          return callback(refused, []);
        }
      }
      if (options.all) return callback(null, callable);
      const [first] = callable as [LookupAddress];
      callback(null, first.address, first.family);
    });
  }

  return { forbiddenHost, lookup };
}
