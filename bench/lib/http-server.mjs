// The server side of the `http` suite, run as a child process (`fork`) so that the load generator does not share
// its event loop: one framework's app with a bare JSON route (`POST /bare`) and the Hookline route
// (`POST /webhooks`: verify, zod, memory idempotency store) side by side, on 127.0.0.1 and a free port.
//
//   fork("lib/http-server.mjs", [JSON.stringify({ framework, secret, maxEntries })])
//
// Messages: it sends `{ port }` once listening; it answers "stats" with the receiver's counts, the store size and
// the logger's warnings, so the suite can check that every delivery was claimed and completed exactly once, and
// "cpu" with the CPU time it used so far (user + system, µs), so the suite can tell server work from waiting.
import { serve } from "@hono/node-server";
import { createReceiver, defineEvents, memoryStore } from "@hookline/core";
import { webhookHandler as expressWebhookHandler } from "@hookline/express";
import { webhookPlugin } from "@hookline/fastify";
import { webhookHandler as honoWebhookHandler } from "@hookline/hono";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { invoiceSchema } from "./invoice.mjs";

const { framework, secret, maxEntries } = JSON.parse(process.argv[2]);

const events = defineEvents({ "invoice.paid": invoiceSchema });

const store = memoryStore({ maxEntries });
const warnings = [];
const keep = (fields, message) => warnings.length < 20 && warnings.push({ message, fields });
let paidCents = 0;
const receiver = createReceiver({ secret, events, store, logger: { info() {}, warn: keep, error: keep } }).on(
  "invoice.paid",
  (event) => {
    paidCents += event.data.object.amount_paid;
  },
);

// The bare routes parse the same body with the framework's own JSON parsing and answer the same 17 bytes.
const BARE_ANSWER = { received: true };

async function start() {
  if (framework === "express") {
    const app = express();
    app.post("/webhooks", expressWebhookHandler(receiver));
    app.post("/bare", express.json(), (request, response) => {
      if (typeof request.body?.type !== "string") return response.status(400).json({ error: "no type" });
      response.json(BARE_ANSWER);
    });
    const server = app.listen(0, "127.0.0.1");
    await new Promise((resolve, reject) => server.once("listening", resolve).once("error", reject));
    return server.address().port;
  }
  if (framework === "fastify") {
    const app = Fastify();
    await app.register(webhookPlugin, { receiver, path: "/webhooks" });
    app.post("/bare", async (request, reply) => {
      if (typeof request.body?.type !== "string") return reply.code(400).send({ error: "no type" });
      return BARE_ANSWER;
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    return app.server.address().port;
  }
  if (framework === "hono") {
    const app = new Hono();
    app.post("/webhooks", honoWebhookHandler(receiver));
    app.post("/bare", async (c) => {
      const body = await c.req.json();
      if (typeof body?.type !== "string") return c.json({ error: "no type" }, 400);
      return c.json(BARE_ANSWER);
    });
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise((resolve, reject) => server.once("listening", resolve).once("error", reject));
    return server.address().port;
  }
  throw new Error(`unknown framework ${framework}`);
}

process.on("message", (message) => {
  if (message === "stats") {
    process.send({ stats: receiver.stats(), storeSize: store.size, paidCents, warnings });
  } else if (message === "cpu") {
    const { user, system } = process.cpuUsage();
    process.send({ cpuMicros: user + system });
  }
});
// The suite's process went away: do not outlive it.
process.on("disconnect", () => process.exit(0));

process.send({ port: await start() });
