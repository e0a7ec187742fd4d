/**
 * The engine: where a sender keeps its endpoints, messages, deliveries and attempts, and how due deliveries reach
 * the dispatcher. One interface, three engines:
 *
 * - `memoryDeliveries()` in `@hookline/core`: the embedded default (a process that dies loses what is pending);
 * - `postgresDeliveries()` in `@hookline/postgres`: rows claimed with `FOR UPDATE SKIP LOCKED` (pull), and the
 *   transactional outbox (`enqueue` on the caller's transaction);
 * - `bullmqDeliveries()` in `@hookline/redis`: BullMQ jobs pushed to workers, a delayed job per next attempt.
 *
 * The split of work: the engine stores and hands out work under a lease; the sender (core) decides everything
 * else — who gets a message (fan-out), how an attempt is made (`deliver`), what its outcome means and when the
 * next attempt is due (the retry schedule). An engine never makes an HTTP request and never reads a schedule.
 *
 * The work loop (`work`, {@link Lease}, {@link WorkOptions}, {@link Worker}) is the part that the receiver's inbox
 * shares: an inbox engine ({@link InboxStore}: `memoryInbox()`, `postgresInbox()`, `bullmqInbox()`) is the same
 * loop over received events instead of deliveries, settled the same way ({@link InboxSettlement}).
 *
 * Every engine runs `runDeliveryStoreContract` from `@hookline/testing` unchanged.
 *
 * Times are milliseconds since the epoch on the engine's clock (the database's for PostgreSQL); delays are
 * relative, so that a dispatcher's clock never decides when a lease ends or an attempt is due.
 *
 * @module
 */

/**
 * Where a delivery (one message to one endpoint) stands. The same four names are used in the API, the tables,
 * the logs and the docs.
 *
 * - `pending`: waiting for its next attempt (the first included), or being attempted under a lease. Deliveries
 *   to a disabled endpoint stay `pending` and are not handed out until the endpoint is enabled again.
 * - `delivered`: an attempt got a 2xx. Final.
 * - `failed`: an attempt got an answer that retrying cannot change (a 4xx other than 408/409/429, a 3xx,
 *   `webhook-delivery: abort-message`, a URL the SSRF guard refused), or the endpoint was deleted. Final.
 * - `exhausted`: every attempt of the schedule failed; kept as a dead letter for `retry`/`replay`. Final.
 */
export type DeliveryStatus = "pending" | "delivered" | "failed" | "exhausted";

/** A signing secret of an endpoint. */
export interface EndpointSecret {
  /** `whsec_…` (Standard Webhooks, Stripe), `whsk_…` (v1a), or the raw secret text (GitHub, HMAC). */
  secret: string;
  /** With a `whsk_` secret: the `whpk_…` public key that receivers verify with. */
  publicKey?: string;
  /** When it stops signing (ms since the epoch): set on the old secret by a rotation's grace. */
  expiresAt?: number;
}

/** A URL that receives webhooks, with what it subscribes to and how it is signed for. */
export interface Endpoint {
  /** `ep_…` */
  id: string;
  url: string;
  /** Only messages sent for this tenant reach it; an endpoint without one gets messages without one. */
  tenant?: string;
  /** The event types it receives; absent: every type. */
  types?: string[];
  /** Extra request headers sent with every delivery. */
  headers: Record<string, string>;
  /** The application's own data, stored and returned as is. */
  metadata: Record<string, unknown>;
  /** Newest first; every unexpired one signs. */
  secrets: EndpointSecret[];
  /** A disabled endpoint gets no attempts; its deliveries wait, `pending`, until it is enabled. */
  disabled: boolean;
  /** Why it was disabled: the caller's reason, `gone` (410 or `webhook-delivery: disable`), or `failing`. */
  disabledReason?: string;
  /** When the current run of exhausted deliveries began; cleared by any delivered one (drives `disableAfter`). */
  failingSince?: number;
  createdAt: number;
  updatedAt: number;
}

/** What can change on an endpoint: every field but its id and creation time. */
export type EndpointPatch = Partial<Omit<Endpoint, "id" | "createdAt" | "updatedAt">>;

/** One event sent once and fanned out to endpoints. */
export interface Message {
  /** `msg_…`, or the caller's own id: the `webhook-id` of every delivery, and the key of idempotent enqueue. */
  id: string;
  type: string;
  tenant?: string;
  /** The exact JSON text sent on every attempt (`{ type, timestamp, data }`). */
  payload: string;
  createdAt: number;
}

/** One message to one endpoint. */
export interface Delivery {
  /** `dlv_…` */
  id: string;
  messageId: string;
  endpointId: string;
  status: DeliveryStatus;
  /**
   * Attempts made since it was created or last requeued: its place in the retry schedule. The attempt log
   * ({@link DeliveryStore.attempts}) keeps every attempt ever made.
   */
  attempts: number;
  /** When the next attempt is due, while `pending`. */
  nextAttemptAt?: number;
  /** The last attempt's HTTP status, when it got an answer. */
  lastStatus?: number;
  /** The last attempt's error, when it got no answer (timeout, network, blocked). */
  lastError?: string;
  lastAttemptAt?: number;
  createdAt: number;
  updatedAt: number;
}

/**
 * What one attempt ended in: `classifyDelivery`'s kinds, and `blocked` for a URL the SSRF guard refused (no
 * connection was made).
 */
export type AttemptOutcome = "success" | "retry" | "final" | "disable" | "blocked";

/** One HTTP attempt of a delivery, as the attempt log keeps it. */
export interface Attempt {
  /** `att_…` */
  id: string;
  deliveryId: string;
  messageId: string;
  endpointId: string;
  startedAt: number;
  durationMs: number;
  outcome: AttemptOutcome;
  /** The HTTP status, when an answer came. */
  status?: number;
  /** The answer's body, cut at the sender's `maxResponseBytes`. */
  responseBody?: string;
  /** Why no answer came: timeout, network error, blocked. */
  error?: string;
}

/** A page of a listing; pass `cursor` back for the next one. */
export interface Page<Item> {
  items: Item[];
  /** Absent on the last page. */
  cursor?: string;
}

/** Which deliveries `deliveries.list` returns, newest first. */
export interface DeliveryFilter {
  messageId?: string;
  endpointId?: string;
  status?: DeliveryStatus;
  /** @default 100 (at most 1000) */
  limit?: number;
  cursor?: string;
}

/**
 * Which deliveries `deliveries.requeue` makes due again: some by id (`sender.retry`), or an endpoint's created in a
 * time range (`sender.replay`), optionally only those with a status.
 */
export type RequeueFilter =
  | { deliveryIds: readonly string[] }
  | { endpointId: string; since: number; until?: number; status?: DeliveryStatus; limit: number };

/** Proof that a worker holds a piece of work; settling with an expired or replaced lease changes no state. */
export interface Lease {
  token: string;
  expiresAt: number;
}

/** A due delivery handed to the dispatcher, with everything it needs to attempt it. */
export interface DeliveryJob {
  delivery: Delivery;
  message: Message;
  endpoint: Endpoint;
  lease: Lease;
}

/**
 * How an attempt ended, as the engine records it in one atomic step:
 * - the attempt is appended to the log, always (even when the lease was lost: the attempt did happen);
 * - only while the lease still holds: the delivery moves to `next`, its `attempts` grows by one, its
 *   `lastStatus`/`lastError` become the attempt's (absent ones cleared) and `lastAttemptAt` its `startedAt`; its
 *   endpoint takes `endpoint`'s changes. The lease ends either way.
 */
export interface Settlement {
  attempt: Omit<Attempt, "id" | "deliveryId" | "messageId" | "endpointId">;
  /** `pending` again after `delayMs` (from the engine's clock), or ended. */
  next: { status: "pending"; delayMs: number } | { status: "delivered" | "failed" | "exhausted" };
  /** Changes to the endpoint: `failingSince` set or cleared (`null`), or the endpoint disabled. */
  endpoint?: { failingSince?: number | null; disable?: { reason: string } };
}

/** Attempts one job and says how it ended. The sender's dispatcher is the one processor of deliveries. */
export type Processor<Job, Result> = (job: Job) => Promise<Result>;

/**
 * How a worker takes work. Generic so that the receiver's inbox can take the same options over its own jobs; a
 * sender's engine uses the defaults.
 */
export interface WorkOptions<Job = DeliveryJob, Result = Settlement> {
  /** Jobs in flight at once in this worker. */
  concurrency: number;
  /**
   * Jobs in flight at once for one key, across every worker sharing the engine (for deliveries, the key is the
   * endpoint: one slow endpoint must not take every slot).
   */
  perKeyConcurrency: number;
  /** How long a job is held; one not settled by then is handed out again. Longer than the attempt's timeout. */
  leaseMs: number;
  /** A processor that threw, or an engine that could not reach its backing store; the worker goes on. */
  onError?(error: unknown): void;
  /**
   * Called once the engine is done with a job whose processor returned a settlement: recorded, refused because
   * the lease was lost, or failed to record (then `onError` got why). The sender's hooks, counters and `drain`
   * hang on it, so that they never run ahead of what the engine holds. `settlement` is the very object the
   * processor returned, not a copy: the sender keys what the engine does not store (an attempt's error kind, its
   * telemetry span) on it.
   */
  onSettled?(job: Job, settlement: Result): void;
}

/** A running worker. */
export interface Worker {
  /**
   * Takes no new work, waits for what is in flight to settle, and gives back every timer and connection that
   * `work` took (a LISTEN connection, a BullMQ worker and its connections), so that the process can exit.
   */
  stop(): Promise<void>;
}

/**
 * Where a sender keeps its state and how due deliveries reach it. Each method is atomic on its own; the notes
 * say what each must guarantee.
 *
 * Whatever makes a delivery due now (`messages.enqueue`, `deliveries.requeue`, an endpoint enabled by
 * `endpoints.update`) wakes this engine's idle workers at once, and those of other processes where the engine
 * can (PostgreSQL's NOTIFY, a BullMQ job): a delivery waits for a poll only as a fallback.
 */
export interface DeliveryStore {
  readonly endpoints: {
    /** Stores a new endpoint. Rejects (`HooklineError` `invalid_option`) when the id exists. */
    create(endpoint: Endpoint): Promise<void>;
    /**
     * `tx`: read on the caller's open transaction, as `messages.enqueue` writes on it (the sender reads its
     * fan-out there, so that `send` inside a transaction never waits for that transaction: PGlite is one
     * session). Engines that cannot join one reject it (`invalid_option`).
     */
    get(id: string, options?: { tx?: unknown }): Promise<Endpoint | undefined>;
    /**
     * Oldest first; only the tenant's when `tenant` is given. `limit` @default 100. `tx`: read on the caller's
     * open transaction, as for `get`.
     */
    list(options?: { tenant?: string; limit?: number; cursor?: string; tx?: unknown }): Promise<Page<Endpoint>>;
    /**
     * Applies `patch` atomically and returns the endpoint as stored, or `undefined` when there is none. An
     * endpoint going from disabled to enabled hands its waiting deliveries out again (each when due).
     */
    update(id: string, patch: EndpointPatch): Promise<Endpoint | undefined>;
    /** Removes it; its `pending` deliveries end `failed` (error "endpoint deleted"), history is kept. */
    delete(id: string): Promise<boolean>;
    /**
     * Puts `secret` first and keeps the other secrets that are unexpired at `at`, each expiring at `expiresAt` at
     * the latest (the rotation's grace); expired ones go (what `rotatedSecrets` computes). One atomic step, so that two
     * rotations at once keep both new secrets and an update in between is never lost. Returns the endpoint as
     * stored, or `undefined` when there is none.
     */
    rotateSecret(
      id: string,
      secret: EndpointSecret,
      grace: { at: number; expiresAt: number },
    ): Promise<Endpoint | undefined>;
  };
  readonly messages: {
    /**
     * Stores a message and its deliveries (all `pending`, due now) in one step, unless a message with the same
     * id exists: then nothing is written and the stored message and its deliveries are returned with
     * `created: false`. `tx` is the caller's open transaction, for engines that can join one (PostgreSQL); the
     * others reject it (`invalid_option`).
     */
    enqueue(
      message: Message,
      deliveries: readonly Delivery[],
      options?: { tx?: unknown },
    ): Promise<{ created: boolean; message: Message; deliveries: Delivery[] }>;
    get(id: string): Promise<Message | undefined>;
  };
  readonly deliveries: {
    get(id: string): Promise<Delivery | undefined>;
    list(filter?: DeliveryFilter): Promise<Page<Delivery>>;
    /**
     * Makes the matching deliveries `pending` and due now, with a fresh schedule (`attempts` 0), whatever their
     * status; one under a live lease is left to its worker. Resolves how many were requeued.
     */
    requeue(filter: RequeueFilter): Promise<number>;
    /**
     * In how many milliseconds (on the engine's clock) the earliest `pending` delivery to an enabled endpoint is
     * due: 0 or less when one is due now, `undefined` when none is pending. A delivery under a lease counts as due
     * when its lease ends. Relative, so that a caller never compares its own clock with the engine's.
     */
    dueIn(): Promise<number | undefined>;
  };
  readonly attempts: {
    /** Every attempt of a delivery, oldest first. */
    list(deliveryId: string): Promise<Attempt[]>;
  };
  /**
   * Starts handing due deliveries of enabled endpoints to `processor`, each under a lease, within the
   * concurrency limits, and records each {@link Settlement}. Two workers never hold one delivery at once; a
   * delivery whose worker died is handed out again once its lease ends.
   */
  work(processor: Processor<DeliveryJob, Settlement>, options: WorkOptions): Worker;
  /** Gives back what the engine itself opened (not an injected client). */
  close?(): Promise<void>;
}

/**
 * Where a received event stands in an inbox. The same three names are used in the API, the tables, the logs and
 * the docs.
 *
 * - `pending`: stored and waiting for its handlers (the first run included), or being handled under a lease.
 * - `processed`: its handlers succeeded. Final; the id is remembered (a redelivery is a duplicate) for the
 *   engine's retention.
 * - `exhausted`: every attempt of the retry schedule failed; the receiver put it in its dead-letter store first.
 *   Final; the id is remembered like a processed one.
 */
export type InboxStatus = "pending" | "processed" | "exhausted";

/** A verified, validated event as the receiver stores it in the inbox: what a worker needs to handle it. */
export interface InboxEvent {
  /**
   * The idempotency key (the signed id, else the body's id, else `sha256:` and the body's SHA-256): the inbox
   * holds one event per id.
   */
  id: string;
  /** The event type, as read at ingest (for logs and listings; the worker reads the payload again). */
  type: string;
  /** The raw body as verified, as text, byte for byte: the worker parses and validates it again. */
  payload: string;
  /** The signed timestamp in unix seconds, when the scheme carries one. */
  timestamp?: number;
  /**
   * The receiver's `orderBy` key. Events with the same key are handed out one at a time, in the order they were
   * enqueued (the order their `enqueue` calls resolved), each only once the one before it has ended (`processed`
   * or `exhausted`): a `pending` retry holds the later ones back. Events without one have no order.
   */
  orderKey?: string;
  /** When the receiver accepted it (ms since the epoch, the receiver's clock): for logs, never for ordering. */
  receivedAt: number;
  /**
   * The request headers the receiver's envelope read at ingest (GitHub's `x-github-event`), names in lower case,
   * so that the worker reads the event the same way; absent when it read none (the default envelope reads none).
   */
  headers?: Record<string, string>;
}

/**
 * A `pending` event handed to a worker.
 *
 * @typeParam Tx what the engine's transaction is (a pg `PoolClient`, a postgres.js `TransactionSql`, a PGlite
 * `Transaction`); `never` for an engine without one.
 */
export interface InboxJob<Tx = never> {
  event: InboxEvent;
  /** The attempts already made: 0 on the first run, then 1, 2… (its place in the retry schedule). */
  attempts: number;
  lease: Lease;
  /**
   * The engine's open transaction, when it can give one (PostgreSQL): the event was claimed in it (`FOR UPDATE
   * SKIP LOCKED`), the handlers run on it, and a `processed` settlement marks the event in it and commits, so
   * that the handlers' writes and the mark land together or not at all.
   */
  tx?: Tx;
}

/**
 * How handling a job ended, as the engine records it in one atomic step, only while the lease still holds (a
 * settlement with a lost lease changes nothing):
 * - `processed`: the event ends `processed`; with a transaction, the mark is written in it and it commits.
 * - `pending`: the event is handed out again after `delayMs` (from the engine's clock), its `attempts` grown by
 *   one and `error` kept as its last error.
 * - `exhausted`: the event ends `exhausted`, its `attempts` grown by one.
 *
 * A settlement that is not `processed` rolls back the job's transaction before it is recorded, so that a failed
 * run's writes never land; then the engine calls its `afterRollback`, outside any transaction of the job, and
 * records the settlement that resolves instead.
 */
export interface InboxSettlement {
  next: { status: "pending"; delayMs: number } | { status: "processed" } | { status: "exhausted" };
  /** Why the run failed (the error's message), when it did. */
  error?: string;
  /**
   * On a settlement that is not `processed`: the receiver's own recording of the failure (the dead letter of an
   * exhausted event), which the engine runs once the job's transaction has been rolled back (at once for an engine
   * without one) and before it records anything. What it resolves is recorded in place of this settlement (its
   * own `afterRollback` ignored), and is what `onSettled` gets. Should it reject, or the process die first, nothing
   * is recorded: the event is handed out again when its lease ends, never dropped. Nothing runs in the job's
   * transaction meanwhile, so the dead letters may live on the inbox's own database (one PGlite, a small pool).
   */
  afterRollback?(): Promise<InboxSettlement>;
}

/** An event as the inbox holds it, for inspection. */
export interface InboxRecord {
  event: InboxEvent;
  status: InboxStatus;
  /** Runs that ended (failed or processed); a run in flight is not counted. */
  attempts: number;
  /** The last failed run's error, when there was one. */
  lastError?: string;
}

/**
 * How an inbox worker takes work: the sender's {@link WorkOptions} over inbox jobs, without `perKeyConcurrency`
 * (an inbox's key is the event's `orderKey`, and it is always one at a time, in order).
 */
export type InboxWorkOptions<Tx = never> = Omit<WorkOptions<InboxJob<Tx>, InboxSettlement>, "perKeyConcurrency">;

/**
 * Where a receiver's inbox keeps received events until its handlers have run: written by the HTTP side
 * (`enqueue`, one durable write per delivery), worked by any process holding the same inbox (`work`). The inbox
 * replaces the receiver's idempotency store: its key, the event id, is the deduplication.
 *
 * Each method is atomic on its own. Whatever makes an event due now (`enqueue`, a lease or a delay running out)
 * wakes idle workers of this process at once, and those of other processes where the engine can (PostgreSQL's
 * NOTIFY, a BullMQ job); a poll is only the fallback.
 *
 * Every engine runs `runInboxContract` from `@hookline/testing` unchanged.
 *
 * @typeParam Tx the type of {@link InboxJob.tx}: what the receiver's handlers get as `context.tx`.
 */
export interface InboxStore<Tx = never> {
  /**
   * Stores the event as `pending`, due now, with no attempts, unless an event with the same id is held (in any
   * status, until the engine's retention forgets a final one): then nothing is written and `created` is false.
   * Resolves only once the event is durable as far as the engine can make it (committed, appended): the receiver
   * answers 200 right after. Rejects when the backing store cannot be reached (the receiver answers 503).
   */
  enqueue(event: InboxEvent): Promise<{ created: boolean }>;
  /** The event with this id and where it stands, or `undefined` when none is held. */
  get(id: string): Promise<InboxRecord | undefined>;
  /**
   * Whether the engine keeps `orderKey` order (one at a time, in enqueue order). One that cannot sets it `false`
   * and says why in its README; the receiver then refuses `orderBy` at start-up (`invalid_option`) rather than
   * run events out of order, and the contract skips its ordering test.
   * @default true
   */
  readonly ordered?: boolean;
  /**
   * Starts handing due `pending` events to `processor`, each under a lease of `leaseMs`, up to `concurrency` at
   * once, and records each {@link InboxSettlement}. Two workers (of any process) never hold one event at once; an
   * event whose worker died, or whose processor threw, is handed out again once its lease ends (a transaction
   * the engine opened for it is rolled back). An engine that gives a transaction ends it when the lease runs out
   * (rolls it back, and the late settlement then changes nothing), so that a stalled run neither keeps the event's
   * row locked past its lease nor commits late. Events with one `orderKey` go one at a time, in enqueue order.
   */
  work(processor: Processor<InboxJob<Tx>, InboxSettlement>, options: InboxWorkOptions<Tx>): Worker;
  /** Gives back what the engine itself opened (not an injected client). */
  close?(): Promise<void>;
}
