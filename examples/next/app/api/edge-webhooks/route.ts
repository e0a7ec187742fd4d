import { webhookHandler } from "@hookline/next";
import { receiver } from "../../../lib/receiver";

// The same handler on the Edge runtime: the smoke test proves it bundles and verifies there too. Next 16.4 marks
// the Edge runtime deprecated; drop this file (or the line below) if you deploy on Node.js only. Set WEBHOOK_SECRET
// when building too: an Edge bundle may keep the environment it was built with.
export const runtime = "edge";
export const POST = webhookHandler(receiver);
