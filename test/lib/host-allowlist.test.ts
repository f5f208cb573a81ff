import { describe, expect, it } from "vitest";
import { createHostAllowlist, hostEntryProblem } from "../../src/lib/host-allowlist.js";

describe("host allow-list", () => {
  it("restricts nothing when empty", () => {
    const list = createHostAllowlist([]);
    expect(list.restricts).toBe(false);
    expect(list.hasAddressEntries).toBe(false);
  });

  it("matches names exactly, in any case, with or without a trailing dot", () => {
    const list = createHostAllowlist(["Billing", "ledger.internal."]);
    for (const name of ["billing", "BILLING", "billing.", "ledger.internal", "Ledger.Internal."]) {
      expect(list.allowsName(name), name).toBe(true);
    }
    for (const name of ["billing2", "a.billing", "internal", "ledger.internal.evil"]) {
      expect(list.allowsName(name), name).toBe(false);
    }
    expect(list.hasAddressEntries).toBe(false);
  });

  it("lets a glob's * stand for one or more labels on the left, never for none", () => {
    const list = createHostAllowlist(["*.svc.cluster.local", "*.Internal"]);
    for (const name of [
      "billing.svc.cluster.local",
      "billing.prod.svc.cluster.local",
      "BILLING.SVC.CLUSTER.LOCAL.",
      "a.internal",
      "a.b.c.internal",
    ]) {
      expect(list.allowsName(name), name).toBe(true);
    }
    for (const name of [
      "svc.cluster.local",
      "internal",
      "internal.",
      ".internal",
      "billingsvc.cluster.local",
      "evilinternal",
      "a.internal.evil.com",
    ]) {
      expect(list.allowsName(name), name).toBe(false);
    }
  });

  it("never matches an address literal by name, nor a name by address", () => {
    const list = createHostAllowlist(["127.0.0.1", "localhost", "10.0.0.0/8"]);
    expect(list.allowsName("127.0.0.1")).toBe(false);
    expect(list.allowsName("10.1.2.3")).toBe(false);
    expect(list.allowsAddress("localhost")).toBe(false);
  });

  it("matches IPv4 literals and CIDRs", () => {
    const list = createHostAllowlist(["10.0.0.0/8", "192.168.1.7", "172.16.0.0/12"]);
    expect(list.hasAddressEntries).toBe(true);
    for (const address of ["10.0.0.1", "10.255.255.255", "192.168.1.7", "172.31.0.1"]) {
      expect(list.allowsAddress(address), address).toBe(true);
    }
    for (const address of ["11.0.0.1", "192.168.1.8", "172.32.0.1", "127.0.0.1"]) {
      expect(list.allowsAddress(address), address).toBe(false);
    }
  });

  it("matches IPv6 literals and CIDRs, bracketed or not, in any case", () => {
    const list = createHostAllowlist(["fd00::/8", "2001:DB8::1"]);
    for (const address of [
      "fd12:3456::1",
      "[fd00::1]",
      "FD00::ABCD",
      "2001:db8::1",
      "[2001:db8::1]",
    ]) {
      expect(list.allowsAddress(address), address).toBe(true);
    }
    for (const address of ["fe80::1", "2001:db8::2", "::1", "fc00::1"]) {
      expect(list.allowsAddress(address), address).toBe(false);
    }
  });

  it("treats an IPv4-mapped IPv6 address as the IPv4 address it carries, both ways", () => {
    const v4 = createHostAllowlist(["10.0.0.0/8"]);
    expect(v4.allowsAddress("::ffff:10.0.0.1")).toBe(true);
    // How the WHATWG URL parser writes it: http://[::ffff:10.0.0.1]/ has this hostname.
    expect(v4.allowsAddress(new URL("http://[::ffff:10.0.0.1]/").hostname)).toBe(true);
    expect(v4.allowsAddress("::ffff:11.0.0.1")).toBe(false);
    const mapped = createHostAllowlist(["::ffff:10.0.0.0/104"]);
    expect(mapped.allowsAddress("10.0.0.1")).toBe(true);
    expect(mapped.allowsAddress("11.0.0.1")).toBe(false);
  });

  it("refuses entries that are not names, globs, addresses or CIDRs", () => {
    for (const entry of [
      "*",
      "*example.com",
      "a.*.example.com",
      "example.*",
      "**.example.com",
      "host:8080",
      "http://host",
      "host/path",
      "10.0.0.0/33",
      "fd00::/129",
      "10.0.0.0/",
      "10.0.0.0/x",
      "not-an-ip/8",
      "under score!",
      "-leading.example.com",
    ]) {
      expect(hostEntryProblem(entry), entry).not.toBeNull();
    }
    for (const entry of ["billing", "*.internal", "10.0.0.0/8", "fd00::/8", "::1", "0.0.0.0/0"]) {
      expect(hostEntryProblem(entry), entry).toBeNull();
    }
    expect(() => createHostAllowlist(["*"])).toThrow(/"\*"/);
  });
});
