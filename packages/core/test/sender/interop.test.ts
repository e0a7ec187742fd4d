// Deliveries verified on the receiving side by the real peer libraries, through real loopback servers: the
// server answers 200 only when the peer accepts the request exactly as it arrived, 401 otherwise.
import { verify as octokitVerify } from "@octokit/webhooks-methods";
import { Webhook as StandardWebhook } from "standardwebhooks";
import Stripe from "stripe";
import { Webhook as SvixWebhook } from "svix";
import { afterAll, describe, expect, it } from "vitest";
import { createDeliveryAgent, generateSecret, github, stripe, type WebhookScheme } from "../../src";
import { loopbackServer, type ReceivedRequest } from "./loopback";

type Check = (request: ReceivedRequest) => Promise<void> | void;

const headerRecord = (request: ReceivedRequest) => request.headers as Record<string, string>;
const stripeClient = new Stripe("sk_test_unused");

const peers: Record<string, (secret: string) => Check> = {
  standardwebhooks: (secret) => (request) => {
    new StandardWebhook(secret).verify(request.body.toString("utf8"), headerRecord(request));
  },
  svix: (secret) => (request) => {
    new SvixWebhook(secret).verify(request.body.toString("utf8"), headerRecord(request));
  },
  "stripe constructEvent": (secret) => (request) => {
    stripeClient.webhooks.constructEvent(request.body, request.headers["stripe-signature"] as string, secret);
  },
  "@octokit/webhooks-methods": (secret) => async (request) => {
    const signature = request.headers["x-hub-signature-256"] as string;
    if (!(await octokitVerify(secret, request.body.toString("utf8"), signature))) throw new Error("no match");
  },
};

const schemeOf: Record<string, WebhookScheme | undefined> = {
  standardwebhooks: undefined,
  svix: undefined,
  "stripe constructEvent": stripe(),
  "@octokit/webhooks-methods": github(),
};

const agent = createDeliveryAgent({ allow: ["127.0.0.1/32"] });
afterAll(() => agent.close());

/** Delivers `payload` signed with `signing` to a server that checks with `check`; resolves the HTTP status. */
async function deliverTo(peer: string, check: Check, signing: string | string[], payload: string | Uint8Array) {
  const server = await loopbackServer((request, response) => {
    Promise.resolve()
      .then(() => check(request))
      .then(
        () => response.writeHead(200).end(),
        (error: Error) => response.writeHead(401).end(error.message),
      );
  });
  try {
    const scheme = schemeOf[peer];
    const result = await agent.deliver({
      url: `${server.origin}/webhooks`,
      payload,
      id: "msg_2bXoBZGxCoTuDtWDrZ3NzGPw2Cd",
      secret: signing,
      ...(scheme && { scheme }),
    });
    expect(server.requests).toHaveLength(1);
    return result;
  } finally {
    await server.close();
  }
}

// Bodies that survive only when the exact bytes are signed and sent.
const payloads: [string, string | Uint8Array][] = [
  ["an event", '{"type":"invoice.paid","timestamp":"2026-12-01T00:00:00.000Z","data":{"id":"in_1","total":1250}}'],
  ["odd whitespace and unicode", '{ "type" :\t"a" ,\r\n "name": "Zoe\u0308 漢字 🎉", "n": 1.50 }\n'],
  ["bytes", new TextEncoder().encode('{"type":"bytes","data":{"emoji":"🎉"}}')],
];

const secretFor = (peer: string) =>
  peer.startsWith("@octokit") ? `gh_${generateSecret().slice(6)}` : generateSecret();

describe.each(Object.keys(peers))("a delivery verified by %s", (peer) => {
  it.each(payloads)("%s", async (_, payload) => {
    const secret = secretFor(peer);
    const result = await deliverTo(peer, peers[peer]!(secret), secret, payload);
    expect(result).toMatchObject({ outcome: { kind: "success" }, status: 200 });
    // And a receiver with another secret refuses it: the check is real.
    const refused = await deliverTo(peer, peers[peer]!(secretFor(peer)), secret, payload);
    expect(refused).toMatchObject({ outcome: { kind: "final" }, status: 401 });
  });

  it("during a rotation grace: a receiver that knows only the old or only the new secret accepts", async () => {
    const [newer, older] = [secretFor(peer), secretFor(peer)];
    for (const known of [older, newer]) {
      const result = await deliverTo(peer, peers[peer]!(known), [newer, older], payloads[0]![1]);
      // GitHub's header carries one signature, the newest secret's: a GitHub receiver must know the new one first.
      const accepted = known === newer || !peer.startsWith("@octokit");
      expect(result, known === older ? "old secret" : "new secret").toMatchObject({ status: accepted ? 200 : 401 });
    }
  });
});
