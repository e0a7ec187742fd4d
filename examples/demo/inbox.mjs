// The inbox half of `pnpm demo`: a receiver that answers as soon as an event is stored, and a worker that runs the
// handlers with retries, order per customer and a dead letter at the end of the schedule.
//
// Two receivers share one inbox: `ingress` (secret, HTTP, no handlers) and `worker` (catalog, handlers, no secret,
// no HTTP). Here both live in this process because `memoryInbox()` is this process's memory. With
// `postgresInbox({ client })` (@hookline/postgres) or `bullmqInbox({ connection })` (@hookline/redis), the same two
// `createReceiver` calls go in two programs, the web app and `node worker.js`, on as many machines as you like.
import { createServer } from "node:http";
import { createReceiver, memoryDeadLetters, memoryInbox } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";
import { signedDelivery } from "@hookline/testing";

const quiet = { info() {}, warn() {}, error() {} };
const until = async (condition) => {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 10));
};

/** Runs the inbox half; resolves how many checks failed. */
export async function inboxDemo(events, secret) {
  let failures = 0;
  const check = (ok, line) => {
    if (!ok) failures++;
    console.log(`${ok ? "✔" : "✘"} ${line}`);
  };
  const inbox = memoryInbox();
  const deadLetters = memoryDeadLetters();

  // The web app's side: verify, validate, store, answer.
  const ingress = createReceiver({ secret, events, inbox, logger: quiet });
  const server = createServer(nodeHandler(ingress));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/webhooks`;
  console.log(`\nInbox receiver listening on ${url}; the worker runs the handlers`);
  const post = async (label, delivery, expected) => {
    const response = await fetch(url, { method: "POST", headers: delivery.headers, body: delivery.body });
    const text = await response.text();
    check(response.status === expected, `${label.padEnd(44)} → ${response.status} ${text}`);
  };

  // The worker's side: handlers, a short schedule (three runs, 100 ms then 200 ms apart), one invoice at a time.
  const ledger = [];
  let ledgerBusy = true; // the first void finds the ledger busy
  const worker = createReceiver({
    events,
    inbox,
    deadLetters,
    schedule: [0, 100, 200],
    orderBy: (event) => event.data.invoiceId,
    logger: quiet,
    hooks: {
      onFailed: ({ id, error, retryInMs }) =>
        console.log(
          `  worker: ${id} failed (${error.message}), ${retryInMs ? `runs again in ${retryInMs} ms` : "exhausted"}`,
        ),
    },
  })
    .on("invoice.paid", (event) => {
      ledger.push(`paid ${event.data.invoiceId}`);
    })
    .on("invoice.voided", (event) => {
      if (event.data.invoiceId === "in_gone") throw new Error("no such invoice in the ledger");
      if (ledgerBusy) {
        ledgerBusy = false;
        throw new Error("ledger busy");
      }
      ledger.push(`voided ${event.data.invoiceId}`);
    });

  const event = (id, type, invoiceId) =>
    signedDelivery({ secret, id, event: { type, data: { invoiceId, amountCents: 900, currency: "EUR" } } });
  const paid = await event("msg_inbox_1", "invoice.paid", "in_7");
  await post("invoice.paid: stored, answered at once", paid, 200);
  await post("the same message again", paid, 200);
  await post("invoice.voided for the same invoice", await event("msg_inbox_2", "invoice.voided", "in_7"), 200);
  await post("invoice.voided for an unknown invoice", await event("msg_inbox_3", "invoice.voided", "in_gone"), 200);
  const invalid = await signedDelivery({ secret, event: { type: "invoice.paid", data: { invoiceId: "in_8" } } });
  await post("a signed event that fails its schema", invalid, 400);

  worker.work({ concurrency: 4 });
  const ended = async (id) => (await inbox.get(id))?.status !== "pending";
  await until(async () => (await ended("msg_inbox_2")) && (await ended("msg_inbox_3")));
  check(
    ledger.join(", ") === "paid in_7, voided in_7",
    `${"in_7: paid, then voided on a retry".padEnd(44)} → ${ledger.join(", ")}`,
  );
  const letter = await deadLetters.get("msg_inbox_3");
  check(
    (await inbox.get("msg_inbox_3"))?.status === "exhausted" && letter?.attempts === 3,
    `${"in_gone: 3 runs, then a dead letter".padEnd(44)} → ${letter?.error.message}`,
  );
  await worker.stop();
  await new Promise((resolve) => server.close(resolve));
  return failures;
}
