import type { InboxSettlement } from "./types";

/**
 * What an inbox engine records for a run that ended in `settlement`, called once the job's transaction has been
 * rolled back (at once for an engine without one): a failed run's `afterRollback` result (the receiver's dead
 * letter written first), else the settlement itself; without `afterRollback` either way. A rejection means
 * nothing may be recorded: the event is handed out again when its lease ends.
 */
export async function settleAfterRollback(settlement: InboxSettlement): Promise<InboxSettlement> {
  const ended =
    settlement.next.status !== "processed" && settlement.afterRollback ? await settlement.afterRollback() : settlement;
  const { afterRollback: _, ...recorded } = ended;
  return recorded;
}
