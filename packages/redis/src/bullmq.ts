/**
 * `@hookline/redis/bullmq`: the sender's engine (`bullmqDeliveries`) and the receiver's inbox (`bullmqInbox`) on
 * Redis and BullMQ. A separate entry point, so that the
 * idempotency and dead-letter stores (`@hookline/redis`) never load BullMQ, an optional peer dependency.
 *
 * @example
 * import { createSender } from "@hookline/core";
 * import { bullmqDeliveries } from "@hookline/redis/bullmq";
 * import { Redis } from "ioredis";
 *
 * const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
 * const sender = createSender({ store: bullmqDeliveries({ connection }) });
 *
 * @module
 */
export { type BullmqDeliveriesOptions, bullmqDeliveries } from "./bullmq/deliveries";
export { type BullmqInboxOptions, bullmqInbox } from "./bullmq/inbox";
