import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressRefusal, hostRefusal, parseAddress, parseRange } from "../../src/net/addresses";

// Addresses as data only: nothing here opens a connection.
const refused = (text: string, allow: string[] = []) =>
  addressRefusal(
    parseAddress(text)!,
    allow.map((entry) => parseRange(entry, "allow")),
  );

describe("the SSRF guard's address rule", () => {
  it.each([
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "127.0.0.1",
    "127.8.9.10",
    "169.254.169.254",
    "100.64.0.1",
    "192.0.2.1",
    "224.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::808:808",
    "2002:7f00:1::",
    "2002:a00:1::1",
    "::7f00:1",
    "::5efe:7f00:1",
    "::ffff:0:7f00:1",
    "100::1",
    "2001::1",
    "2001:db8::1",
  ])("refuses %s", (address) => {
    expect(refused(address)).toMatch(/not public unicast/);
  });

  it.each([
    "93.184.216.34",
    "1.1.1.1",
    "2606:4700::1111",
    "::ffff:93.184.216.34",
    "64:ff9b::5db8:d822",
    "2002:5db8:d822::1",
  ])("lets %s through", (address) => {
    expect(refused(address)).toBeUndefined();
  });

  it("lets through what allow covers, in any spelling", () => {
    expect(refused("10.1.2.3", ["10.0.0.0/8"])).toBeUndefined();
    expect(refused("::ffff:127.0.0.1", ["127.0.0.1/32"])).toBeUndefined();
    expect(refused("64:ff9b::7f00:1", ["127.0.0.1"])).toBeUndefined();
    expect(refused("::1", ["::1/128"])).toBeUndefined();
    expect(refused("127.0.0.2", ["127.0.0.1/32"])).toMatch(/loopback/);
    expect(() => parseRange("10.0.0.0/33", "allow")).toThrow(/allow: "10.0.0.0\/33" is not/);
  });

  it("checks URL hosts: IP literals in every form, and localhost", () => {
    const host = (url: string) => hostRefusal(new URL(url).hostname, []);
    for (const url of [
      "http://127.0.0.1/",
      "http://[::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://2130706433/",
      "http://0x7f.1/",
      "http://0177.0.0.1/",
      "http://127.1/",
      "http://localhost/",
      "http://LOCALHOST./",
      "http://api.localhost/",
    ]) {
      expect(host(url), url).toMatch(/not public unicast/);
    }
    expect(host("http://hooks.example.com/")).toBeUndefined();
    expect(hostRefusal("localhost", [parseRange("127.0.0.1/32", "allow")])).toBeUndefined();
  });

  it("gives one verdict for an IPv4 address in every spelling (dotted, decimal, hex, mapped, NAT64, 6to4)", () => {
    fc.assert(
      fc.property(fc.ipV4(), (dotted) => {
        const octets = dotted.split(".").map(Number);
        const value = octets.reduce((sum, octet) => sum * 256 + octet, 0);
        const hex = (i: number) => (octets[i]! * 256 + octets[i + 1]!).toString(16);
        const verdict = refused(dotted) === undefined;
        const spellings = [
          hostRefusal(new URL(`http://${value}/`).hostname, []),
          hostRefusal(new URL(`http://0x${value.toString(16)}/`).hostname, []),
          refused(`::ffff:${dotted}`),
          refused(`64:ff9b::${hex(0)}:${hex(2)}`),
          refused(`2002:${hex(0)}:${hex(2)}::1`),
        ];
        for (const refusal of spellings) expect(refusal === undefined).toBe(verdict);
      }),
    );
  });
});
