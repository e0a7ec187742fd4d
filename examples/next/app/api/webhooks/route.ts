import { webhookHandler } from "@hookline/next";
import { receiver } from "../../../lib/receiver";

export const POST = webhookHandler(receiver);
