/**
 * The fetch transport: any runtime's `fetch` (or the caller's), redirects not followed. The platform resolves
 * names, so the SSRF guard can only refuse IP literals and `localhost` here: on Workers the platform itself
 * never reaches private addresses; on Deno, `--allow-net=<hosts>` is the guard; on Bun nothing else guards.
 */
import { AddressRefused, hostRefusal } from "./addresses";
import { CappedBody, type Transport, type TransportOptions, type TransportResponse } from "./transport";

export function fetchTransport(options: TransportOptions): Transport {
  const { allow } = options;
  const send = options.fetch ?? globalThis.fetch;
  return {
    async send({ url, headers, body, signal, maxResponseBytes }): Promise<TransportResponse> {
      const refusal = hostRefusal(url.hostname, allow);
      if (refusal) throw new AddressRefused(refusal);
      const response = await send(url, {
        method: "POST",
        headers,
        body: body as BodyInit,
        redirect: "manual",
        signal,
      });
      const answer: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        answer[name] = value;
      });
      return { status: response.status, headers: answer, body: await readCapped(response, maxResponseBytes) };
    },
    async close() {},
  };
}

async function readCapped(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  const captured = new CappedBody(limit);
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!captured.add(value)) {
      // The rest is not wanted: stop the download instead of buffering it.
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return captured.text();
}
