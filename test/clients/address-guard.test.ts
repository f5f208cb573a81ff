import type { LookupAddress } from "node:dns";
import { describe, expect, it } from "vitest";
import { AddressRefusedError, createAddressPolicy } from "../../src/clients/address-guard.js";

/** The policy's lookup as a promise: every address it hands the socket, or its refusal. */
function resolve(
  policy: ReturnType<typeof createAddressPolicy>,
  hostname: string,
): Promise<LookupAddress[]> {
  return new Promise((done, fail) => {
    policy.lookup(hostname, { all: true }, (error, addresses) => {
      if (error) fail(error);
      else done(addresses as LookupAddress[]);
    });
  });
}

// localhost comes from /etc/hosts (127.0.0.1, and ::1 on some hosts): no DNS server needed.
describe("address policy", () => {
  it("refuses only link-local when no allow-list is set", async () => {
    const policy = createAddressPolicy();
    expect(policy.forbiddenHost("169.254.169.254")).toMatchObject({ rule: "link-local" });
    expect(policy.forbiddenHost("[fe80::1]")).toMatchObject({ rule: "link-local" });
    for (const host of ["10.0.0.1", "127.0.0.1", "[::1]", "anything.example.com"]) {
      expect(policy.forbiddenHost(host), host).toBeNull();
    }
    expect((await resolve(policy, "localhost")).length).toBeGreaterThan(0);
  });

  it("refuses link-local even when an entry would cover it", () => {
    const policy = createAddressPolicy({ allowedHosts: ["0.0.0.0/0", "::/0"] });
    expect(policy.forbiddenHost("169.254.169.254")).toMatchObject({ rule: "link-local" });
    expect(policy.forbiddenHost("[::ffff:169.254.169.254]")).toMatchObject({ rule: "link-local" });
    expect(policy.forbiddenHost("10.0.0.1")).toBeNull();
  });

  it("refuses literals outside the list before any DNS, naming the host", () => {
    const policy = createAddressPolicy({ allowedHosts: ["10.0.0.0/8", "fd00::/8"] });
    expect(policy.forbiddenHost("10.2.3.4")).toBeNull();
    expect(policy.forbiddenHost("[fd00::5]")).toBeNull();
    expect(policy.forbiddenHost("[::ffff:10.0.0.1]")).toBeNull();
    expect(policy.forbiddenHost("127.0.0.1")).toEqual({
      host: "127.0.0.1",
      rule: "not-allowed",
      message: "127.0.0.1 is not in ALLOWED_SERVICE_HOSTS",
    });
    expect(policy.forbiddenHost("[::1]")).toMatchObject({ host: "::1", rule: "not-allowed" });
  });

  it("leaves a name to connect time while a CIDR could still let it in", () => {
    const withCidr = createAddressPolicy({ allowedHosts: ["*.internal", "10.0.0.0/8"] });
    expect(withCidr.forbiddenHost("billing.internal")).toBeNull();
    expect(withCidr.forbiddenHost("billing.example.com")).toBeNull();
    const namesOnly = createAddressPolicy({ allowedHosts: ["*.internal", "billing"] });
    expect(namesOnly.forbiddenHost("a.internal")).toBeNull();
    expect(namesOnly.forbiddenHost("billing")).toBeNull();
    expect(namesOnly.forbiddenHost("billing.example.com")).toMatchObject({
      host: "billing.example.com",
      rule: "not-allowed",
    });
    expect(namesOnly.forbiddenHost("10.0.0.1")).toMatchObject({ rule: "not-allowed" });
  });

  it("lets a name in by its addresses only when every one is inside a CIDR", async () => {
    const inside = createAddressPolicy({ allowedHosts: ["127.0.0.0/8", "::1"] });
    expect((await resolve(inside, "localhost")).map((entry) => entry.address)).toContain(
      "127.0.0.1",
    );
    const outside = createAddressPolicy({ allowedHosts: ["10.0.0.0/8"] });
    const refused = resolve(outside, "localhost");
    await expect(refused).rejects.toBeInstanceOf(AddressRefusedError);
    await expect(refused).rejects.toMatchObject({
      code: "EADDRNOTAVAIL",
      message: expect.stringMatching(
        /^localhost resolves to \S+, which is not in ALLOWED_SERVICE_HOSTS$/,
      ),
    });
  });

  it("lets a name in by name whatever it resolves to", async () => {
    const policy = createAddressPolicy({ allowedHosts: ["LOCALHOST", "10.0.0.0/8"] });
    expect((await resolve(policy, "localhost")).length).toBeGreaterThan(0);
  });

  it("answers one address when the socket asks for one", async () => {
    const policy = createAddressPolicy({ allowedHosts: ["127.0.0.0/8", "::1"] });
    const single = await new Promise<{ address: unknown; family: unknown }>((done, fail) => {
      policy.lookup("localhost", { family: 4 }, (error, address, family) =>
        error ? fail(error) : done({ address, family }),
      );
    });
    expect(single).toEqual({ address: "127.0.0.1", family: 4 });
  });
});
