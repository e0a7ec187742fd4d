/** A snapshot of what a receiver has done since it was created. */
export interface ReceiverStats {
  /** Deliveries by outcome: `received`, `ignored`, `duplicate`, `failed`, `dead_lettered`, `replayed`,
   * `accepted_late` (answered 202), with an inbox `queued` (stored) and `exhausted` (without a dead-letter store),
   * and each refusal code (`no_matching_signature`, `in_flight`, `inbox_unavailable`, …). */
  counts: Record<string, number>;
  /** Events whose handlers succeeded. */
  processed: number;
  /** Handler time over the last 1,024 processed events, in milliseconds. */
  handlerMs: { p50: number; p99: number };
}

const WINDOW = 1024;

export function statsRecorder() {
  const counts: Record<string, number> = {};
  const durations = new Float64Array(WINDOW);
  let processed = 0;

  const percentile = (sorted: Float64Array, p: number) =>
    sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

  return {
    count(outcome: string) {
      counts[outcome] = (counts[outcome] ?? 0) + 1;
    },
    processed(ms: number) {
      durations[processed % WINDOW] = ms;
      processed++;
    },
    snapshot(): ReceiverStats {
      const sorted = durations.slice(0, Math.min(processed, WINDOW)).sort();
      return {
        counts: { ...counts },
        processed,
        handlerMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) },
      };
    },
  };
}
