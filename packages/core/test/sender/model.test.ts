// A model test of the memory engine under the sender's own settlement rules (`settle`): random sequences of
// attempt outcomes (2xx, 4xx, 410, 429, 5xx with Retry-After, timeouts, refused URLs), clock jumps past leases,
// several workers claiming at once, requeues and re-enabled endpoints. An independent model of what the engine
// must hold is kept beside it and compared after every step. The HTTP side of each outcome is covered by the
// loopback suites (sender.test.ts, deliver.test.ts); here each attempt's result is drawn at random.
import fc from "fast-check";
import { expect, it } from "vitest";
import {
  type AttemptResult,
  type DeliveryJob,
  type DeliveryStatus,
  fixedSchedule,
  memoryDeliveries,
  type Settlement,
} from "../../src";
import { type SettlePolicy, settle } from "../../src/sender/settle";

const results = {
  ok: { outcome: { kind: "success" }, status: 200, durationMs: 1 },
  badRequest: { outcome: { kind: "final" }, status: 400, durationMs: 1 },
  gone: { outcome: { kind: "disable" }, status: 410, durationMs: 1 },
  tooMany: { outcome: { kind: "retry" }, status: 429, durationMs: 1 },
  unavailable: { outcome: { kind: "retry", retryAfter: 2_000 }, status: 503, durationMs: 1 },
  timeout: { outcome: { kind: "retry" }, error: "timeout after 15000 ms", durationMs: 15_000 },
  blocked: { outcome: { kind: "blocked" }, error: "blocked: 10.0.0.1 is private", durationMs: 0 },
} satisfies Record<string, AttemptResult>;

type Command =
  | { kind: "settle"; pick: number; result: keyof typeof results }
  | { kind: "advance"; ms: number }
  | { kind: "enable"; endpoint: number }
  | { kind: "requeue"; pick: number }
  | { kind: "send" };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("settle" as const),
      pick: fc.nat(),
      result: fc.constantFrom(...(Object.keys(results) as (keyof typeof results)[])),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.constantFrom(50, 500, 1_500, 70_000) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("enable" as const), endpoint: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("requeue" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("send" as const) }) },
);

const policy: SettlePolicy = {
  schedule: fixedSchedule([0, 100, 1_000, 5_000]),
  retryAfter: { maxFactor: 2, minMs: 60_000 },
  disableAfter: 3_600_000,
};
const LEASE_MS = 1_000;

interface Held {
  job: DeliveryJob;
  resolve(settlement: Settlement): void;
}

interface Modelled {
  status: DeliveryStatus;
  endpointId: string;
  due: number;
  /** The lease the engine must honour, while handed out. */
  lease?: { token: string; expiresAt: number };
  /** Attempts the engine must have logged. */
  logged: number;
}

const flush = async () => {
  for (let i = 0; i < 4; i++) await new Promise((resolve) => setImmediate(resolve));
};

async function run(commands: Command[], workers: number) {
  const clock = { at: 1_000_000 };
  const now = () => clock.at;
  const store = memoryDeliveries({ now, pollMs: 60_000 });
  const model = new Map<string, Modelled>();
  const disabled = new Set<string>();
  const held: Held[] = [];
  const violations: string[] = [];
  const endpointIds = ["ep_a", "ep_b"];
  for (const id of endpointIds) {
    await store.endpoints.create({
      id,
      url: "https://example.com/hooks",
      headers: {},
      metadata: {},
      secrets: [{ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }],
      disabled: false,
      createdAt: now(),
      updatedAt: now(),
    });
  }

  let sent = 0;
  async function send() {
    const messageId = `msg_${sent++}`;
    const deliveries = endpointIds.map((endpointId) => ({
      id: `dlv_${messageId}_${endpointId}`,
      messageId,
      endpointId,
      status: "pending" as const,
      attempts: 0,
      createdAt: now(),
      updatedAt: now(),
    }));
    for (const delivery of deliveries) {
      model.set(delivery.id, { status: "pending", endpointId: delivery.endpointId, due: now(), logged: 0 });
    }
    await store.messages.enqueue({ id: messageId, type: "ping", payload: "{}", createdAt: now() }, deliveries);
  }

  // The invariants are checked at the moment of each hand-out.
  const processor = (job: DeliveryJob) =>
    new Promise<Settlement>((resolve) => {
      const id = job.delivery.id;
      const state = model.get(id)!;
      if (state.status !== "pending") violations.push(`${id} handed out after it ended ${state.status}`);
      if (disabled.has(state.endpointId)) violations.push(`${id} handed out while its endpoint is disabled`);
      if (state.due > now()) violations.push(`${id} handed out ${state.due - now()} ms before it was due`);
      if (state.lease && state.lease.expiresAt > now()) violations.push(`${id} handed out under another live lease`);
      // The clock may move between the claim and this call (as real time does), never backwards.
      if (job.lease.expiresAt > now() + LEASE_MS)
        violations.push(`${id} leased until ${job.lease.expiresAt} at ${now()}`);
      state.lease = { ...job.lease };
      held.push({ job, resolve });
    });

  async function resolve(index: number, result: AttemptResult) {
    const [{ job, resolve: answer }] = held.splice(index, 1) as [Held];
    const settlement = settle(job, result, now(), policy, now());
    const state = model.get(job.delivery.id)!;
    state.logged++;
    if (state.lease?.token === job.lease.token && job.lease.expiresAt > now()) {
      state.lease = undefined;
      state.status = settlement.next.status;
      if (settlement.next.status === "pending") state.due = now() + settlement.next.delayMs;
      if (settlement.endpoint?.disable) disabled.add(job.endpoint.id);
    }
    answer(settlement);
    await flush();
  }

  const running = Array.from({ length: workers }, () =>
    store.work(processor, {
      concurrency: 2,
      perKeyConcurrency: 2,
      leaseMs: LEASE_MS,
      onError: (error) => violations.push(`engine error: ${String(error)}`),
    }),
  );

  async function compare(step: string) {
    for (const [id, state] of model) {
      const stored = await store.deliveries.get(id);
      if (stored?.status !== state.status) {
        violations.push(`after ${step}: ${id} is ${stored?.status} in the engine, ${state.status} in the model`);
      }
      const logged = (await store.attempts.list(id)).length;
      if (logged !== state.logged)
        violations.push(`after ${step}: ${id} has ${logged} attempts logged, not ${state.logged}`);
    }
  }

  await send();
  await flush();
  for (const step of commands) {
    switch (step.kind) {
      case "settle":
        if (held.length > 0) await resolve(step.pick % held.length, results[step.result]);
        break;
      case "advance":
        clock.at += step.ms;
        store.tick();
        await flush();
        break;
      case "enable": {
        const id = endpointIds[step.endpoint]!;
        disabled.delete(id);
        await store.endpoints.update(id, { disabled: false });
        await flush();
        break;
      }
      case "requeue": {
        const ids = [...model.keys()];
        const id = ids[step.pick % ids.length]!;
        const state = model.get(id)!;
        const live = state.lease !== undefined && state.lease.expiresAt > now();
        // The model first: the engine wakes its workers, which may take the delivery before `requeue` resolves.
        if (!live) Object.assign(state, { status: "pending", due: now(), lease: undefined });
        const count = await store.deliveries.requeue({ deliveryIds: [id] });
        if (count !== (live ? 0 : 1)) violations.push(`requeue of ${id} (live lease: ${live}) counted ${count}`);
        await flush();
        break;
      }
      case "send":
        await send();
        await flush();
        break;
    }
    await compare(JSON.stringify(step));
    if (violations.length > 0) break;
  }

  // Then every endpoint comes back and answers 200: nothing may be left behind.
  for (let round = 0; round < 50 && violations.length === 0; round++) {
    disabled.clear();
    for (const id of endpointIds) await store.endpoints.update(id, { disabled: false });
    while (held.length > 0) await resolve(0, results.ok);
    if ([...model.values()].every((state) => state.status !== "pending")) break;
    clock.at += 100_000;
    store.tick();
    await flush();
  }
  await compare("the final round");
  const left = [...model].filter(([, state]) => state.status === "pending").map(([id]) => id);
  if (left.length > 0) violations.push(`never ended: ${left.join(", ")}`);
  while (held.length > 0) await resolve(0, results.ok);
  await Promise.all(running.map((worker) => worker.stop()));
  return violations;
}

it("loses no delivery, never hands one out twice at once or after it ended, whatever the outcomes", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(command, { maxLength: 80 }),
      fc.integer({ min: 1, max: 3 }),
      async (commands, workers) => {
        expect(await run(commands, workers)).toEqual([]);
      },
    ),
    { numRuns: 150 },
  );
}, 120_000);
