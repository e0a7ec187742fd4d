// The runtime-neutral transport: fetch, IP literals checked. The node build swaps this module for ./node.ts
// (tsup.config.ts), whose connection checks every address DNS gives; both export exactly these names.
import { fetchTransport } from "./fetch";
import type { Transport, TransportOptions } from "./transport";

/** How this build guards deliveries: `"lookup"` checks every resolved address, `"literal"` only IP literals. */
export const guardKind: "lookup" | "literal" = "literal";

export function createTransport(options: TransportOptions): Transport {
  return fetchTransport(options);
}
