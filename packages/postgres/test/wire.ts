import { connect, createServer, type Socket } from "node:net";

/**
 * A loopback TCP relay in front of a PostgreSQL server that counts round trips on the wire: each time a client
 * sends after having heard from the server, it has waited for the server once. A driver that pipelines a
 * statement (Parse, Bind, Execute, Sync in one go) costs one; one that describes it first and waits costs two.
 */
export async function roundTripCounter(
  server: URL,
): Promise<{ url: string; roundTrips(): number; close(): Promise<void> }> {
  let roundTrips = 0;
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = connect(Number(server.port), server.hostname);
    let heardFromServer = true;
    client.on("data", (chunk: Buffer) => {
      if (heardFromServer) roundTrips++;
      heardFromServer = false;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      heardFromServer = true;
      client.write(chunk);
    });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  const { port } = relay.address() as { port: number };
  const url = new URL(server);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    roundTrips: () => roundTrips,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        relay.close(() => resolve());
      }),
  };
}
