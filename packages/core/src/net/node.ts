// The Node transport: node:http / node:https through pooled keep-alive agents whose DNS lookup is the SSRF
// guard's. The lookup resolves the host, refuses it if ANY address is not allowed, and hands the connection only
// the addresses it checked: there is no second lookup for a rebinding DNS server to answer differently.
// (node:http rather than undici: no dependency, and Node connects through `lookup` for plain and TLS sockets
// alike; the bench's `send` suite compares it with undici's fetch.) Under the `node` condition the
// package's `#net` import loads this module instead of ./index.ts (tsup.config.ts); both export exactly these names.
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { AddressRefused, addressRefusal, hostRefusal, parseAddress, type Range } from "./addresses";
import { fetchTransport } from "./fetch";
import { CappedBody, type DeliveryLookup, type Transport, type TransportOptions } from "./transport";

// The SSRF guard's address checks travel with the transport (they import ipaddr.js, which is CommonJS: a bundle
// that never sends then drops them with this module).
export { AddressRefused, inRanges, parseAddress, parseRange, type Range } from "./addresses";

const systemLookup: DeliveryLookup = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );

/** A `net.connect` lookup that resolves through `resolve` and refuses the host if any address is not allowed. */
function guardedLookup(resolve: DeliveryLookup, allow: readonly Range[]): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (resolved) => {
        for (const { address } of resolved) {
          const parsed = parseAddress(address);
          const refusal = parsed ? addressRefusal(parsed, allow) : `${address} is not an IP address`;
          if (refusal) return callback(new AddressRefused(`${hostname} resolves to ${refusal}`), "", 4);
        }
        const family = options.family === 4 || options.family === 6 ? options.family : undefined;
        const usable: LookupAddress[] = resolved.filter((entry) => !family || entry.family === family);
        if (usable.length === 0) {
          const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
          return callback(error, "", 4);
        }
        if (options.all) return (callback as (error: null, addresses: LookupAddress[]) => void)(null, usable);
        callback(null, usable[0]!.address, usable[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 4),
    );
  };
}

// Bun and Deno resolve the `node` export condition, but their node:http does not promise to connect through
// `lookup`: there the fetch transport, with its IP-literal check, is the honest choice.
const nodeHttp =
  typeof (globalThis as { Bun?: unknown }).Bun === "undefined" &&
  typeof (globalThis as { Deno?: unknown }).Deno === "undefined";

export const guardKind: "lookup" | "literal" = nodeHttp ? "lookup" : "literal";

export function createTransport(options: TransportOptions): Transport {
  if (options.fetch || !nodeHttp) return fetchTransport(options);
  const { allow } = options;
  // `allow` covering every IPv4 and IPv6 address turns the guard off: the plain system lookup, nothing checked.
  const open =
    allow.some(([range, bits]) => bits === 0 && range.kind() === "ipv4") &&
    allow.some(([range, bits]) => bits === 0 && range.kind() === "ipv6");
  const lookup = open ? undefined : guardedLookup(options.lookup ?? systemLookup, allow);
  const agentOptions = { keepAlive: true, ...(lookup && { lookup }) };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);

  return {
    send({ url, headers, body, signal, maxResponseBytes }) {
      return new Promise((resolve, reject) => {
        // IP literals never reach `lookup` (Node connects to them directly): check them here.
        const refusal = open ? undefined : hostRefusal(url.hostname, allow);
        if (refusal) return reject(new AddressRefused(refusal));
        const secure = url.protocol === "https:";
        const bytes = typeof body === "string" ? Buffer.from(body) : body;
        const request = (secure ? httpsRequest : httpRequest)(
          {
            hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
            port: url.port,
            path: `${url.pathname}${url.search}`,
            method: "POST",
            headers: { ...headers, "content-length": String(bytes.byteLength) },
            agent: secure ? https : http,
            signal,
          },
          (response) => readCapped(response, maxResponseBytes).then(resolve, reject),
        );
        request.on("error", reject);
        request.end(bytes);
      });
    },
    async close() {
      http.destroy();
      https.destroy();
    },
  };
}

function readCapped(
  response: IncomingMessage,
  limit: number,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers[name] = typeof value === "string" ? value : value.join(", ");
  }
  const status = response.statusCode ?? 0;
  return new Promise((resolve, reject) => {
    const captured = new CappedBody(limit);
    const done = () => resolve({ status, headers, body: captured.text() });
    response.on("data", (chunk: Buffer) => {
      if (captured.add(chunk)) return;
      // The rest is not wanted: close this connection rather than download it (or leave it half read in the pool).
      response.removeAllListeners("data");
      response.destroy();
      done();
    });
    response.on("end", done);
    response.on("error", reject);
    response.on("close", () => {
      if (!response.complete) reject(new Error("the connection closed before the answer was complete"));
    });
  });
}
