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

/** Sends "stop"; resolves the process's reply (`{ cpuUs, … }`) once it has exited. */
export async function stopChild(child) {
  const exited = once(child, "exit");
  const reply = once(child, "message");
  child.send("stop");
  const [result] = await reply;
  await exited;
  return result;
}
