// A real HTTP server on a loopback address that records what reaches it: connections, requests, their headers
// and exact body bytes. The delivery tests answer from it and count what the SSRF guard let through.
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface LoopbackServer {
  /** `http://<host>:<port>` (IPv6 in brackets). */
  origin: string;
  port: number;
  /** TCP connections accepted so far. */
  connections: number;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

export type Answer = (request: ReceivedRequest, response: ServerResponse) => void;

export async function loopbackServer(
  answer: Answer = (_, response) => response.end("ok"),
  host = "127.0.0.1",
): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const received = {
        method: request.method ?? "",
        path: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks),
      };
      state.requests.push(received);
      answer(received, response);
    });
  });
  server.on("connection", (socket: Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(0, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const state: LoopbackServer = {
    origin: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    connections: 0,
    requests: [],
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
      }),
  };
  return state;
}
