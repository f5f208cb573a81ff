import { BlockList, isIP } from "node:net";

/**
 * A list of hosts, as an operator writes one: host names (`billing`), left-hand globs
 * (`*.svc.cluster.local`), address literals (`10.1.2.3`, `fd00::1`) and CIDRs
 * (`10.0.0.0/8`, `fd00::/8`). Names and addresses are answered apart: a name is matched by
 * the name and glob entries only, an address by the literal and CIDR entries only. How the
 * two combine for a host that is a name resolving to addresses is the caller's rule.
 */
export type HostAllowlist = {
  /** False for an empty list: nothing is restricted. */
  readonly restricts: boolean;
  /** Whether any literal or CIDR entry exists, i.e. whether a name could be let in by its addresses. */
  readonly hasAddressEntries: boolean;
  /** A host name (not an address literal) against the name and glob entries. */
  allowsName(name: string): boolean;
  /** An address literal against the literal and CIDR entries; IPv4-mapped IPv6 counts as IPv4. */
  allowsAddress(address: string): boolean;
};

// One DNS label: letters, digits, hyphens, and underscores, which the WHATWG URL parser
// accepts in host names and some service names (compose, SRV-style) carry.
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lower case, brackets and one trailing dot removed: how names and entries are compared. */
function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "");
}

type ParsedEntry =
  | { kind: "name"; name: string }
  | { kind: "glob"; suffix: string }
  | { kind: "address"; address: string; family: "ipv4" | "ipv6" }
  | { kind: "subnet"; network: string; prefix: number; family: "ipv4" | "ipv6" };

function isHostName(value: string): boolean {
  return value.length <= 253 && value.split(".").every((label) => LABEL.test(label));
}

/** One entry parsed, or why it is not one. */
function parseEntry(raw: string): ParsedEntry | string {
  const entry = normalizeHost(raw);
  if (entry === "") return "is empty";
  if (entry === "*") return "would allow every host: leave the list empty for that";
  const slash = entry.indexOf("/");
  if (slash !== -1) {
    const network = entry.slice(0, slash);
    const prefixText = entry.slice(slash + 1);
    const family = isIP(network);
    if (family === 0) return "is not a CIDR: the part before / must be an IPv4 or IPv6 address";
    const max = family === 4 ? 32 : 128;
    const prefix = Number(prefixText);
    if (!/^\d{1,3}$/.test(prefixText) || prefix > max) {
      return `is not a CIDR: the prefix length must be 0 to ${max}`;
    }
    return { kind: "subnet", network, prefix, family: family === 4 ? "ipv4" : "ipv6" };
  }
  const family = isIP(entry);
  if (family !== 0)
    return { kind: "address", address: entry, family: family === 4 ? "ipv4" : "ipv6" };
  if (entry.startsWith("*.")) {
    const suffix = entry.slice(2);
    if (!isHostName(suffix)) return "is not a glob: only a leading `*.` before a host name is";
    return { kind: "glob", suffix };
  }
  if (!isHostName(entry)) {
    return "is not a host name, a `*.` glob, an IP address or a CIDR (ports and paths are not part of an entry)";
  }
  return { kind: "name", name: entry };
}

/** Why an entry cannot be on a host allow-list, or null when it can. */
export function hostEntryProblem(entry: string): string | null {
  const parsed = parseEntry(entry);
  return typeof parsed === "string" ? parsed : null;
}

/** The allow-list of these entries; throws on an entry that `hostEntryProblem` refuses. */
export function createHostAllowlist(entries: readonly string[]): HostAllowlist {
  const names = new Set<string>();
  const globSuffixes: string[] = [];
  const addresses = new BlockList();
  let hasAddressEntries = false;
  for (const raw of entries) {
    const entry = parseEntry(raw);
    if (typeof entry === "string") throw new Error(`host allow-list entry "${raw}" ${entry}`);
    switch (entry.kind) {
      case "name":
        names.add(entry.name);
        break;
      case "glob":
        globSuffixes.push(`.${entry.suffix}`);
        break;
      case "address":
        addresses.addAddress(entry.address, entry.family);
        hasAddressEntries = true;
        break;
      case "subnet":
        addresses.addSubnet(entry.network, entry.prefix, entry.family);
        hasAddressEntries = true;
        break;
    }
  }

  return {
    restricts: entries.length > 0,
    hasAddressEntries,
    allowsName(name) {
      const host = normalizeHost(name);
      if (host === "" || isIP(host) !== 0) return false;
      if (names.has(host)) return true;
      // `*.example.com` stands for one or more labels: `a.example.com`, `a.b.example.com`,
      // never `example.com` itself (the name must be longer than the dot and the suffix).
      return globSuffixes.some((suffix) => host.length > suffix.length && host.endsWith(suffix));
    },
    allowsAddress(address) {
      const host = normalizeHost(address);
      const family = isIP(host);
      if (family === 0) return false;
      // BlockList checks `::ffff:10.0.0.1` against IPv4 rules and IPv4 against
      // `::ffff:0:0/96` rules, so a mapped address cannot slip past either way.
      return addresses.check(host, family === 4 ? "ipv4" : "ipv6");
    },
  };
}
