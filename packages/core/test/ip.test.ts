import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import { inIpRange, parseIp, parseIpRange } from "../src/ip";

// ipaddr.js is the oracle: the receiver's own matcher must agree with it on every address a socket or proxy reports.
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join("."));
const ipv6 = fc.ipV6();
// ipaddr.js reads the deprecated IPv4-compatible form `::a.b.c.d` as IPv4; by RFC 4291 it is an IPv6 address, which
// is how parseIp reads it (no socket reports that form).
const ipv4Compatible = /^::(?:\d+\.){3}\d+$/;
const address = fc
  .oneof(
    ipv4,
    ipv6,
    ipv4.map((v4) => `::ffff:${v4}`),
  )
  .filter((text) => !ipv4Compatible.test(text));

function oracle(text: string, cidr: string): boolean {
  const parsed = ipaddr.process(text);
  const [range, bits] = ipaddr.parseCIDR(cidr);
  return parsed.kind() === range.kind() && parsed.match(range, bits);
}

describe("parseIp", () => {
  it("reads every address ipaddr.js reads, to the same bytes", () => {
    fc.assert(
      fc.property(address, (text) => {
        const expected = ipaddr.process(text).toByteArray();
        expect(Array.from(parseIp(text) ?? [])).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ["127.0.0.1", [127, 0, 0, 1]],
    ["::ffff:127.0.0.1", [127, 0, 0, 1]],
    ["fe80::1%eth0", [0xfe, 0x80, ...new Array(13).fill(0), 1]],
    ["::", new Array(16).fill(0)],
  ])("%s", (text, bytes) => {
    expect(Array.from(parseIp(text) ?? [])).toEqual(bytes);
  });

  it.each([
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4",
    "0x7f.0.0.1",
    "2130706433",
    " 1.2.3.4",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "12345::",
    "::1.2.3",
    "g::1",
    ":",
  ])("refuses %j", (text) => {
    expect(parseIp(text)).toBeUndefined();
  });
});

describe("inIpRange", () => {
  it("matches exactly as ipaddr.js does", () => {
    const range = fc.oneof(
      fc.tuple(ipv4, fc.nat(32)).map(([a, bits]) => `${a}/${bits}`),
      fc.tuple(ipv6, fc.nat(128)).map(([a, bits]) => `${a}/${bits}`),
    );
    fc.assert(
      fc.property(address, range, (text, cidr) => {
        const parsed = parseIpRange(cidr);
        expect(parsed).toBeDefined();
        expect(inIpRange(parseIp(text) as Uint8Array, parsed as NonNullable<typeof parsed>)).toBe(oracle(text, cidr));
      }),
      { numRuns: 5000 },
    );
  });

  it("matches near the boundary of a range", () => {
    const range = parseIpRange("10.1.2.0/23");
    if (!range) throw new Error("unparsed");
    expect(inIpRange(parseIp("10.1.3.255") as Uint8Array, range)).toBe(true);
    expect(inIpRange(parseIp("10.1.4.0") as Uint8Array, range)).toBe(false);
    expect(inIpRange(parseIp("::ffff:10.1.2.9") as Uint8Array, range)).toBe(true);
  });

  it("reads `::a.b.c.d` as the IPv6 address it is", () => {
    expect(Array.from(parseIp("::1.2.3.4") ?? [])).toEqual([...new Array(12).fill(0), 1, 2, 3, 4]);
  });

  it("reads an IPv4-mapped IPv6 range as the IPv4 range it holds", () => {
    const range = parseIpRange("::ffff:10.0.0.0/104");
    expect(range && inIpRange(parseIp("10.9.9.9") as Uint8Array, range)).toBe(true);
  });

  it.each(["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "nope/8"])("refuses %j", (text) => {
    expect(parseIpRange(text)).toBeUndefined();
  });
});
