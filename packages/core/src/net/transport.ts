/**
 * The connection side of a delivery: one POST, its answer read up to a limit. Two implementations: `fetch.ts`
 * (every runtime; the SSRF guard checks IP literals only) and `node.ts` (Node's own connection, whose DNS lookup
 * is the guard's). `deliver` signs, times and classifies; a transport only moves bytes.
 */
import { utf8Decode } from "../encoding";
import type { Range } from "./addresses";

/** Resolves a hostname to every address it has, like `dns.lookup(hostname, { all: true })`. */
export type DeliveryLookup = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

export interface TransportOptions {
  /** CIDRs the guard lets through, parsed. */
  allow: readonly Range[];
  fetch?: typeof fetch;
  lookup?: DeliveryLookup;
}

export interface TransportRequest {
  /** http: or https:, without credentials. */
  url: URL;
  headers: Record<string, string>;
  body: string | Uint8Array;
  /** Ends the attempt: the timeout or the caller's stop. */
  signal: AbortSignal;
  maxResponseBytes: number;
}

export interface TransportResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Cut at `maxResponseBytes`. */
  body: string;
}

export interface Transport {
  /** Rejects with `AddressRefused` when the guard refuses the URL (nothing was sent), or a network error. */
  send(request: TransportRequest): Promise<TransportResponse>;
  close(): Promise<void>;
}

/** Collects chunks up to `limit` bytes; `add` says false once the limit is reached (stop reading). */
export class CappedBody {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  add(chunk: Uint8Array): boolean {
    const room = this.limit - this.size;
    if (room > 0) {
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.chunks.push(kept);
      this.size += kept.length;
    }
    return chunk.length < room;
  }

  text(): string {
    if (this.chunks.length === 1) return utf8Decode(this.chunks[0]!);
    const all = new Uint8Array(this.size);
    let offset = 0;
    for (const chunk of this.chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    return utf8Decode(all);
  }
}
