import type { HeaderReader } from "../headers";
import { inRanges, parseAddress, parseRange } from "../net/addresses";

/** The opt-in transport checks of a receiver. */
export interface TransportOptions {
  /**
   * Refuse (403 `https_required`) deliveries that did not arrive over HTTPS. Behind a TLS-terminating proxy,
   * set `trustProxy` so that `x-forwarded-proto` is believed.
   * @default false
   */
  requireHttps?: boolean;
  /**
   * Only accept deliveries from these addresses or CIDR ranges (IPv4 and IPv6), such as the provider's
   * published ranges; others get 403 `ip_not_allowed`.
   * @default undefined (any address)
   */
  allowIps?: readonly string[];
  /**
   * Believe `x-forwarded-proto` and `x-forwarded-for` (its last entry: the address your own proxy saw). Only
   * set it when a proxy you run sets those headers; otherwise a sender could forge them.
   * @default false
   */
  trustProxy?: boolean;
}

/** What a delivery looks like on the wire, as far as the transport checks care. */
export interface TransportFacts {
  url?: string | undefined;
  remoteAddress?: string | undefined;
  header: HeaderReader;
}

/** Builds the transport check; `undefined` means it passes, else the code to refuse with. */
export function transportCheck(
  options: TransportOptions,
): (facts: TransportFacts) => "https_required" | "ip_not_allowed" | undefined {
  const ranges = options.allowIps?.map((entry) => parseRange(entry, "allowIps"));
  const trustProxy = options.trustProxy ?? false;
  return ({ url, remoteAddress, header }) => {
    if (options.requireHttps) {
      const forwarded = trustProxy ? header("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase() : undefined;
      const protocol = forwarded ?? (url ? new URL(url).protocol.slice(0, -1) : undefined);
      if (protocol !== "https") return "https_required";
    }
    if (ranges) {
      const address = (trustProxy ? header("x-forwarded-for")?.split(",").pop()?.trim() : undefined) ?? remoteAddress;
      const parsed = address && parseAddress(address);
      if (!parsed || !inRanges(parsed, ranges)) return "ip_not_allowed";
    }
    return undefined;
  };
}
