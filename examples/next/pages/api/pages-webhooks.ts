import { pagesWebhookHandler } from "@hookline/next";
import { receiver } from "../../lib/receiver";

// Next reads this statically from this file: it must be written out here, not imported.
export const config = { api: { bodyParser: false } };

export default pagesWebhookHandler(receiver);
