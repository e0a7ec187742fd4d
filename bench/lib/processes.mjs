// What the process-based suites (durable-bullmq, durable-postgres, inbox-postgres, inbox-bullmq) share: a free loopback port,
// and forked helper processes that report over IPC.
import { fork } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";

/** A free TCP port on 127.0.0.1 (nothing listens on it once this resolves). */
export async function freePort() {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

/** Forks `file` with `config` as its argument; resolves once its first message is one `ready` accepts. */
export async function forkReady(file, config, ready = () => true) {
  const child = fork(file, [JSON.stringify(config)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const [message] = await once(child, "message");
  if (!ready(message)) throw new Error(`unexpected first message from ${file}: ${JSON.stringify(message)}`);
  return { child, message };
}

/**
 * The child's side of `forkReady` and `stopChild`: says "ready"; on "stop", stops its work, takes the CPU time it
 * used since this call, closes its connections, and exits after replying `{ cpuUs, ...report() }`.
 */
export function serveUntilStop({ stop, close = async () => {}, report = () => ({}) }) {
  const cpuAtStart = process.cpuUsage();
  process.send("ready");
  process.on("message", async (message) => {
    if (message !== "stop") return;
    await stop();
    const { user, system } = process.cpuUsage(cpuAtStart);
    await close();
    process.send({ cpuUs: user + system, ...report() }, () => process.exit(0));
  });
}

/** Sends "stop"; resolves the process's reply (`{ cpuUs, … }`) once it has exited. */
export async function stopChild(child) {
  const exited = once(child, "exit");
  const reply = once(child, "message");
  child.send("stop");
  const [result] = await reply;
  await exited;
  return result;
}
