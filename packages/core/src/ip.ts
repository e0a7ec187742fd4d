/**
 * IP addresses and CIDR ranges, for `allowIps`: strict parsing of the forms a socket or a proxy reports (dotted
 * IPv4, RFC 4291 IPv6 with an optional embedded IPv4 and zone) and prefix matching. Small on purpose: ipaddr.js
 * is CommonJS, so a bundler keeps all of it in every Workers bundle that imports the receiver, used or not.
 *
 * @module
 */

/** An address as 4 (IPv4) or 16 (IPv6) bytes; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is read as the IPv4 address. */
export type IpAddress = Uint8Array;

/** A range: the address and how many leading bits must match. */
export interface IpRange {
  address: IpAddress;
  bits: number;
}

const IPV4_PART = /^(?:0|[1-9]\d{0,2})$/;
const IPV6_GROUP = /^[0-9a-f]{1,4}$/i;

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    if (!IPV4_PART.test(part) || Number(part) > 255) return undefined;
    bytes[i] = Number(part);
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const zone = text.indexOf("%");
  const address = zone === -1 ? text : text.slice(0, zone);
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const words: number[] = [];
    const parts = half.split(":");
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      if (i === parts.length - 1 && part.includes(".")) {
        const ipv4 = parseIpv4(part);
        if (!ipv4) return undefined;
        words.push(((ipv4[0] as number) << 8) | (ipv4[1] as number), ((ipv4[2] as number) << 8) | (ipv4[3] as number));
      } else if (IPV6_GROUP.test(part)) {
        words.push(Number.parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return words;
  };
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  return bytes;
}

const isIpv4Mapped = (bytes: Uint8Array): boolean =>
  bytes.length === 16 && bytes.subarray(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff;

/** Parses an IPv4 or IPv6 address; IPv4-mapped IPv6 becomes IPv4. `undefined` when it is not one. */
export function parseIp(text: string): IpAddress | undefined {
  const bytes = text.includes(":") ? parseIpv6(text) : parseIpv4(text);
  return bytes && isIpv4Mapped(bytes) ? bytes.slice(12) : bytes;
}

/** Parses `address/bits`, or a lone address (all bits). `undefined` when it is neither. */
export function parseIpRange(text: string): IpRange | undefined {
  const slash = text.indexOf("/");
  const address = text.includes(":")
    ? parseIpv6(slash === -1 ? text : text.slice(0, slash))
    : parseIpv4(slash === -1 ? text : text.slice(0, slash));
  if (!address) return undefined;
  const max = address.length * 8;
  if (slash === -1) return { address, bits: max };
  const suffix = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(suffix) || Number(suffix) > max) return undefined;
  // `::ffff:10.0.0.0/104` is the IPv4 range 10.0.0.0/8, as the addresses it holds are read.
  if (isIpv4Mapped(address) && Number(suffix) >= 96) return { address: address.slice(12), bits: Number(suffix) - 96 };
  return { address, bits: Number(suffix) };
}

/** Whether `address` lies in `range` (an IPv4 address never lies in an IPv6 range, nor the reverse). */
export function inIpRange(address: IpAddress, range: IpRange): boolean {
  if (address.length !== range.address.length) return false;
  const whole = range.bits >> 3;
  for (let i = 0; i < whole; i++) if (address[i] !== range.address[i]) return false;
  const rest = range.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((address[whole] as number) & mask) === ((range.address[whole] as number) & mask);
}
