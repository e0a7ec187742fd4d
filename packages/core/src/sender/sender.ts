import { memoryDeliveries } from "../engine/memory";
import type { Delivery, Endpoint, Message } from "../engine/types";
import { HooklineError } from "../errors";
import { parseRange } from "../net";
import { randomId } from "../random";
import { type EventSchemas, schemaFor, type UntypedCatalog, validateData } from "../receiver/events";
import { consoleLogger, safeLogger } from "../receiver/log";
import { fixedSchedule, type RetrySchedule, retrySchedules } from "../retry";
import { standardWebhooks } from "../schemes";
import { generateMessageId } from "../webhook";
import type { DeliveryAgentOptions } from "./deliver";
import { createDispatcher } from "./dispatcher";
import { senderEndpoints } from "./endpoints";
import type { SettlePolicy } from "./settle";
import type { Sender, SenderOptions, SendOptions } from "./types";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const REPLAY_LIMIT = 10_000;
// A message id travels in a header and in the signed content's "id.timestamp." prefix.
const MESSAGE_ID = /^[\x21-\x2b\x2d-\x7e]+$/;

function whole(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new HooklineError("invalid_option", `${name} must be a whole number ≥ ${min}, got ${value}`);
  }
  return value;
}

function time(name: string, value: Date | number): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (!Number.isFinite(ms)) throw new HooklineError("invalid_option", `${name} must be a Date or ms since the epoch`);
  return ms;
}

/**
 * Creates a webhook sender. Endpoints subscribe to event types; `send` fans a message out to them; the
 * dispatcher (`start`) signs and POSTs each delivery, retries on the schedule, honours `Retry-After`, disables
 * endpoints that answer 410 or keep failing, refuses private addresses (the SSRF guard), and keeps exhausted
 * deliveries as dead letters for `retry` and `replay`.
 *
 * @example
 * const sender = createSender({ events });
 * const endpoint = await sender.endpoints.create({ url: "https://example.com/webhooks" });
 * sender.start();
 * await sender.send("invoice.paid", { invoiceId: "in_1", amountCents: 1250 }); // typed by the catalog
 * // endpoint.secrets[0].secret is what the receiver verifies with
 * process.on("SIGTERM", () => sender.stop());
 */
export function createSender<const Catalog extends EventSchemas = UntypedCatalog>(
  options: SenderOptions<Catalog> = {},
): Sender<Catalog> {
  const now = options.now ?? Date.now;
  const catalog = options.events as EventSchemas | undefined;
  const store = options.store ?? memoryDeliveries({ now });
  const scheme = options.scheme ?? standardWebhooks();
  const timeoutMs = whole("timeoutMs", options.timeoutMs ?? 15_000, 1);
  const maxResponseBytes = whole("maxResponseBytes", options.maxResponseBytes ?? 20_000, 0);
  const concurrency = whole("concurrency", options.concurrency ?? 50, 1);
  const perKeyConcurrency = whole("perEndpointConcurrency", options.perEndpointConcurrency ?? 10, 1);
  const leaseMs = whole("leaseMs", options.leaseMs ?? timeoutMs + 30_000, timeoutMs + 1);
  const allowList = options.allow ?? [];
  const allow = allowList.map((entry) => parseRange(entry, "allow"));
  const schedule =
    options.schedule === undefined
      ? fixedSchedule(retrySchedules.standardWebhooks, { jitter: 0.2 })
      : Array.isArray(options.schedule)
        ? fixedSchedule(options.schedule)
        : (options.schedule as RetrySchedule);
  const disableAfter = options.disableAfter ?? 5 * DAY;
  if (disableAfter !== false && !(disableAfter > 0)) {
    throw new HooklineError("invalid_option", `disableAfter must be milliseconds > 0 or false, got ${disableAfter}`);
  }
  const policy: SettlePolicy = {
    schedule,
    retryAfter: { maxFactor: options.retryAfter?.maxFactor ?? 2, minMs: options.retryAfter?.minMs ?? MINUTE },
    disableAfter,
  };
  if (!(policy.retryAfter.maxFactor >= 1 && policy.retryAfter.minMs >= 0)) {
    throw new HooklineError("invalid_option", "retryAfter must be { maxFactor ≥ 1, minMs ≥ 0 }");
  }
  const agentOptions: DeliveryAgentOptions = {
    allow: allowList,
    ...(options.fetch && { fetch: options.fetch }),
    ...(options.lookup && { lookup: options.lookup }),
  };
  const secretKind = options.secretKind ?? "whsec";
  if (secretKind !== "whsec" && secretKind !== "whsk") {
    throw new HooklineError("invalid_option", `secretKind must be "whsec" or "whsk", got ${String(secretKind)}`);
  }
  const endpoints = senderEndpoints(store, allow, now, secretKind);
  const dispatcher = createDispatcher({
    store,
    ownsStore: options.store === undefined,
    scheme,
    timeoutMs,
    maxResponseBytes,
    concurrency,
    perKeyConcurrency,
    leaseMs,
    policy,
    hooks: options.hooks ?? {},
    telemetry: options.telemetry,
    logger: safeLogger(options.logger ?? consoleLogger),
    agentOptions,
    now,
  });

  /** The endpoints a message fans out to, read on the caller's transaction when there is one. */
  async function recipients(type: string, options: SendOptions): Promise<Endpoint[]> {
    const tx = options.tx === undefined ? {} : { tx: options.tx };
    const matches = (endpoint: Endpoint | undefined): endpoint is Endpoint =>
      endpoint !== undefined &&
      !endpoint.disabled &&
      endpoint.tenant === options.tenant &&
      (endpoint.types === undefined || endpoint.types.includes(type));
    if (options.endpointIds) {
      const found = await Promise.all([...new Set(options.endpointIds)].map((id) => store.endpoints.get(id, tx)));
      return found.filter(matches);
    }
    const all: Endpoint[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.endpoints.list({
        limit: 1000,
        ...(options.tenant !== undefined && { tenant: options.tenant }),
        ...(cursor !== undefined && { cursor }),
        ...tx,
      });
      all.push(...page.items.filter(matches));
      cursor = page.cursor;
    } while (cursor !== undefined);
    return all;
  }

  return {
    endpoints,

    async send(type, data, sendOptions = {}) {
      if (typeof type !== "string" || type === "") {
        throw new HooklineError("invalid_event", "The event type must be a non-empty string");
      }
      if (catalog) {
        const schema = schemaFor(catalog, type);
        if (!schema) throw new HooklineError("invalid_event", `"${type}" is not a type of the event catalog`);
        const result = await validateData(schema, type, data);
        if ("issues" in result) throw new HooklineError("invalid_event", result.message, { issues: result.issues });
      }
      const id = sendOptions.id ?? generateMessageId();
      if (typeof id !== "string" || !MESSAGE_ID.test(id)) {
        throw new HooklineError("invalid_option", `id must be printable ASCII without spaces or commas, got ${id}`);
      }
      const timestamp = new Date(time("timestamp", sendOptions.timestamp ?? now()));
      let payload: string;
      try {
        payload = JSON.stringify({ type, timestamp: timestamp.toISOString(), data });
      } catch (cause) {
        throw new HooklineError(
          "invalid_event",
          `The ${type} data cannot be sent as JSON: ${(cause as Error).message}`,
          {
            cause,
          },
        );
      }
      const at = now();
      const message: Message = {
        id,
        type,
        ...(sendOptions.tenant !== undefined && { tenant: sendOptions.tenant }),
        payload,
        createdAt: at,
      };
      const deliveries = (await recipients(type, sendOptions)).map(
        (endpoint): Delivery => ({
          id: randomId("dlv_"),
          messageId: id,
          endpointId: endpoint.id,
          status: "pending",
          attempts: 0,
          createdAt: at,
          updatedAt: at,
        }),
      );
      const stored = await store.messages.enqueue(
        message,
        deliveries,
        sendOptions.tx === undefined ? undefined : { tx: sendOptions.tx },
      );
      return {
        messageId: stored.message.id,
        created: stored.created,
        deliveries: stored.deliveries.map((delivery) => ({ id: delivery.id, endpointId: delivery.endpointId })),
      };
    },

    messages: { get: (id) => store.messages.get(id) },
    deliveries: { get: (id) => store.deliveries.get(id), list: (filter) => store.deliveries.list(filter) },
    attempts: { list: (deliveryId) => store.attempts.list(deliveryId) },

    async retry(deliveryId) {
      if ((await store.deliveries.requeue({ deliveryIds: [deliveryId] })) > 0) return true;
      const delivery = await store.deliveries.get(deliveryId);
      if (!delivery) throw new HooklineError("not_found", `No delivery ${deliveryId}`);
      if (!(await store.endpoints.get(delivery.endpointId))) {
        throw new HooklineError("not_found", `The endpoint of delivery ${deliveryId} was deleted`);
      }
      return false;
    },

    replay({ endpointId, since, until, status }) {
      return store.deliveries.requeue({
        endpointId,
        since: time("since", since),
        until: time("until", until ?? now()),
        ...(status !== undefined && { status }),
        limit: REPLAY_LIMIT,
      });
    },

    start: dispatcher.start,
    stop: dispatcher.stop,
    drain: dispatcher.drain,
    stats: dispatcher.stats,
  };
}
