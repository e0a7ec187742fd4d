import { HooklineError } from "../errors";
import type { HeaderReader } from "../headers";
import { type IpAddress, type IpRange, inIpRange, parseIp, parseIpRange } from "../ip";

/** The opt-in transport checks of a receiver. */
export interface TransportOptions {
  /**
   * Refuse (403 `https_required`) deliveries that did not arrive over HTTPS, as the server saw the connection
   * (see {@link ConnectionInfo.secure}). Behind a TLS-terminating proxy, set `trustProxy` so that the proxy's
   * `x-forwarded-proto` is believed.
   * @default false
   */
  requireHttps?: boolean;
  /**
   * Only accept deliveries from these addresses or CIDR ranges (IPv4 and IPv6), such as the provider's
   * published ranges; others get 403 `ip_not_allowed`. Needs the peer's address: adapters pass it where the
   * runtime knows it and fail at start-up where it cannot (unless `trustProxy` is set).
   * @default undefined (any address)
   */
  allowIps?: readonly string[];
  /**
   * Believe the last entry of `x-forwarded-proto` and of `x-forwarded-for`: what your own proxy appended, the
   * entries before it being whatever the client sent. Only set it when a proxy you run (or your platform, such
   * as Vercel) sets those headers; otherwise a sender could forge them.
   * @default false
   */
  trustProxy?: boolean;
}

/**
 * What the server knows about the connection a request came on, which the request itself cannot be trusted to
 * say. Adapters fill it in from the runtime: the Node bridge from the socket, Hono from its connection-info
 * helper.
 */
export interface ConnectionInfo {
  /**
   * Whether the connection to this server is TLS (Node: `socket.encrypted`). It decides `requireHttps` unless a
   * trusted proxy's `x-forwarded-proto` does. Without it, the scheme of the request URL is used, which is only
   * sound where the runtime wrote it from the listener (Cloudflare Workers, `Deno.serve`, `Bun.serve`), never
   * where the client's absolute-form target becomes the URL (`@hono/node-server`, Next.js).
   * @default undefined (the request URL's scheme)
   */
  secure?: boolean | undefined;
  /**
   * The peer's IP address (Node: `socket.remoteAddress`). Used by `allowIps` and `rateLimit`, unless a trusted
   * proxy's `x-forwarded-for` names the peer.
   * @default undefined (unknown)
   */
  remoteAddress?: string | undefined;
}

/** What a delivery looks like on the wire, as far as the transport checks care. */
export interface TransportFacts extends ConnectionInfo {
  /** The request target as the client wrote it (origin-form `/path` or absolute-form), or the request's URL. */
  url?: string | undefined;
  header: HeaderReader;
}

/** Which connection facts a receiver's options need, for adapters to check at start-up. */
export interface ConnectionNeeds {
  /** `requireHttps` is set and no trusted proxy says the protocol. */
  secure: boolean;
  /** `allowIps` or `rateLimit` is set and no trusted proxy says the address. */
  remoteAddress: boolean;
}

function parseRange(entry: string): IpRange {
  const range = parseIpRange(entry);
  if (!range) {
    throw new HooklineError("invalid_option", `allowIps: ${JSON.stringify(entry)} is not an IP address or CIDR range`);
  }
  return range;
}

/** The entry the nearest proxy appended: the others are whatever the client sent. */
function lastEntry(value: string | undefined): string | undefined {
  const entry = value?.slice(value.lastIndexOf(",") + 1).trim();
  return entry || undefined;
}

// RFC 3986 host (IP-literal, IPv4 or reg-name) and optional port: RFC 9112 §3.2 answers any other Host 400.
const HOST = /^(?:\[[\w:.%-]+\]|[\w.~!$&'()*+,;=%-]*)(?::\d*)?$/;

/** Whether the target is origin-form or a parseable absolute http(s) URL (RFC 9112 §3.2). */
function wellFormedTarget(url: string): boolean {
  if (url.startsWith("/")) return true;
  try {
    const { protocol } = new URL(url);
    return protocol === "https:" || protocol === "http:";
  } catch {
    return false;
  }
}

/**
 * The peer's address, normalized (IPv4-mapped IPv6 as IPv4): a trusted proxy's last `x-forwarded-for` entry,
 * else the connection's. `undefined` when unknown or not an IP address.
 */
export function peerAddress(facts: TransportFacts, trustProxy: boolean): IpAddress | undefined {
  const address = (trustProxy ? lastEntry(facts.header("x-forwarded-for")) : undefined) ?? facts.remoteAddress;
  return address === undefined ? undefined : parseIp(address);
}

/** Which connection facts these options need from an adapter (none that a trusted proxy supplies). */
export function connectionNeeds(options: TransportOptions & { rateLimit?: unknown }): ConnectionNeeds {
  const trustProxy = options.trustProxy ?? false;
  return {
    secure: (options.requireHttps ?? false) && !trustProxy,
    remoteAddress: (options.allowIps !== undefined || options.rateLimit !== undefined) && !trustProxy,
  };
}

/**
 * Throws at start-up when a receiver's options need a fact about the connection that an adapter cannot know on
 * its runtime, instead of refusing every delivery later.
 *
 * @param needs the receiver's `connectionNeeds`.
 * @param known which facts the adapter passes.
 * @param where the adapter, for the message (such as `"the Next.js App Router"`).
 */
export function assertConnectionKnown(
  needs: ConnectionNeeds,
  known: { secure: boolean; remoteAddress: boolean },
  where: string,
): void {
  if (needs.remoteAddress && !known.remoteAddress) {
    throw new HooklineError(
      "invalid_option",
      `allowIps and rateLimit need the peer's address, which ${where} does not know: set trustProxy if a proxy you ` +
        "run (or your platform) sets x-forwarded-for, or pass the address as the adapter's documentation says",
    );
  }
  if (needs.secure && !known.secure) {
    throw new HooklineError(
      "invalid_option",
      `requireHttps needs to know whether the connection is TLS, which ${where} does not: set trustProxy if a ` +
        "proxy you run (or your platform) terminates TLS and sets x-forwarded-proto",
    );
  }
}

/** Builds the transport check; `undefined` means it passes, else the code to refuse with. */
export function transportCheck(
  options: TransportOptions,
): (facts: TransportFacts) => "malformed_request" | "https_required" | "ip_not_allowed" | undefined {
  const ranges = options.allowIps?.map(parseRange);
  const trustProxy = options.trustProxy ?? false;
  return (facts) => {
    const { url, secure, header } = facts;
    const host = header("host");
    if ((host !== undefined && !HOST.test(host)) || (url !== undefined && !wellFormedTarget(url))) {
      return "malformed_request";
    }
    if (options.requireHttps) {
      const forwarded = trustProxy ? lastEntry(header("x-forwarded-proto"))?.toLowerCase() : undefined;
      const https = forwarded !== undefined ? forwarded === "https" : (secure ?? url?.startsWith("https:") === true);
      if (!https) return "https_required";
    }
    if (ranges) {
      const address = peerAddress(facts, trustProxy);
      if (!address || !ranges.some((range) => inIpRange(address, range))) return "ip_not_allowed";
    }
    return undefined;
  };
}
