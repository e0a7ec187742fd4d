/**
 * Which addresses a sender may reach: public unicast only, unless a CIDR of `allow` covers the address. Shared by
 * the Node connection (which checks every address DNS gives) and the fetch transport (which can only check IP
 * literals), and by the receiver's `allowIps`.
 */
import ipaddr from "ipaddr.js";
import { HooklineError } from "../errors";

/** An address and prefix length. */
export type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses a CIDR (or a bare address: /32, /128); `option` names the option in the error. */
export function parseRange(entry: string, option: string): Range {
  try {
    if (entry.includes("/")) return ipaddr.parseCIDR(entry);
    const address = ipaddr.parse(entry);
    return [address, address.kind() === "ipv4" ? 32 : 128];
  } catch (cause) {
    throw new HooklineError(
      "invalid_option",
      `${option}: ${JSON.stringify(entry)} is not an IP address or CIDR range`,
      {
        cause,
      },
    );
  }
}

/** True when one of `ranges` covers `address` (IPv4-mapped IPv6 counts as its IPv4 address). */
export function inRanges(address: ipaddr.IPv4 | ipaddr.IPv6, ranges: readonly Range[]): boolean {
  return ranges.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}

/**
 * Parses an address in its usual text form (dotted-quad IPv4, or IPv6); `undefined` when it is not one.
 * IPv4-mapped IPv6 becomes its IPv4 address. (Shapes first: `ipaddr.isValid` throws and catches inside, ≈17 µs for a
 * hostname, more than the rest of a delivery's guard.)
 */
export function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (text.includes(":")) return ipaddr.IPv6.isValid(text) ? ipaddr.process(text) : undefined;
  return DOTTED_QUAD.test(text) && ipaddr.IPv4.isValid(text) ? ipaddr.IPv4.parse(text) : undefined;
}

const DOTTED_QUAD = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

const NAT64 = ipaddr.IPv6.parse("64:ff9b::");
const LOOPBACK = ipaddr.IPv4.parse("127.0.0.1");
const GLOBAL_UNICAST = ipaddr.IPv6.parse("2000::");

/**
 * The IPv4 address inside an IPv6 one that only carries it: NAT64's well-known prefix (64:ff9b::/96, RFC 6052;
 * DNS64 puts every IPv4-only host there, so it cannot be refused whole) and 6to4 (2002::/16). Checking the carried
 * address closes the path to 127.0.0.1 through `[64:ff9b::7f00:1]`. (IPv4-mapped `::ffff:a.b.c.d` is already
 * unwrapped by `parseAddress`.)
 */
function carriedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const at = address.match(NAT64, 96) ? 6 : address.range() === "6to4" ? 1 : undefined;
  if (at === undefined) return undefined;
  const [high, low] = [address.parts[at]!, address.parts[at + 1]!];
  return new ipaddr.IPv4([high >> 8, high & 255, low >> 8, low & 255]);
}

/**
 * Why the SSRF guard refuses `address`, or `undefined` when it may be reached: `allow` covers it, or it (or the
 * IPv4 address it carries) is public unicast. For IPv6 that means inside 2000::/3, the only block IANA allocates
 * for global unicast, and none of its special ranges: outside it lie the other spellings of an IPv4 address
 * (`::7f00:1`, ISATAP, SIIT), which ipaddr.js calls unicast, as Hook0's `dns.rs` found.
 */
export function addressRefusal(address: ipaddr.IPv4 | ipaddr.IPv6, allow: readonly Range[]): string | undefined {
  if (inRanges(address, allow)) return undefined;
  if (address.kind() === "ipv6") {
    const carried = carriedIPv4(address as ipaddr.IPv6);
    if (carried) {
      const refusal = addressRefusal(carried, allow);
      return refusal && `${address.toString()} carries ${refusal}`;
    }
    if (!address.match(GLOBAL_UNICAST, 3)) return `${address.toString()} is outside 2000::/3, not public unicast`;
  }
  const range = address.range();
  return range === "unicast" ? undefined : `${address.toString()} is ${range}, not public unicast`;
}

/**
 * Why the guard refuses a URL's host before any lookup, or `undefined`: an IP literal is checked as an address,
 * `localhost` and `*.localhost` as the loopback address they always name (RFC 6761). Other names are left to
 * the lookup (on Node) or to the platform (elsewhere). `hostname` is a WHATWG URL's, so decimal, octal and hex
 * IPv4 forms (`2130706433`, `0x7f.1`) are already dotted quads, and IPv6 is in brackets.
 */
export function hostRefusal(hostname: string, allow: readonly Range[]): string | undefined {
  const host = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  const address = parseAddress(host);
  if (address) return addressRefusal(address, allow);
  const name = host.toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) {
    const loopback = addressRefusal(LOOPBACK, allow);
    return loopback && `${hostname} names a loopback address, not public unicast`;
  }
  return undefined;
}

/** Thrown inside a transport when the guard refuses; `deliver` turns it into the outcome `blocked`. */
export class AddressRefused extends Error {
  override readonly name = "AddressRefused";
}
