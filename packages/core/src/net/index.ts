// The runtime-neutral transport: fetch, IP literals checked. Under the `node` condition the package's `#net` import
// (tsup.config.ts) loads ./node.ts instead, whose connection checks every address DNS gives; both export exactly
// these names.
import { fetchTransport } from "./fetch";
import type { Transport, TransportOptions } from "./transport";

// The SSRF guard's address checks travel with the transport (they import ipaddr.js, which is CommonJS: a bundle
// that never sends then drops them with this module).
export { AddressRefused, inRanges, parseAddress, parseRange, type Range } from "./addresses";

/** How this build guards deliveries: `"lookup"` checks every resolved address, `"literal"` only IP literals. */
export const guardKind: "lookup" | "literal" = "literal";

export function createTransport(options: TransportOptions): Transport {
  return fetchTransport(options);
}
