import type { ReceiverLogger } from "./types";

/** Warnings and errors on the console; routine deliveries stay quiet. */
export const consoleLogger: ReceiverLogger = {
  info() {},
  warn: (fields, message) => console.warn(`[hookline] ${message}`, fields),
  error: (fields, message) => console.error(`[hookline] ${message}`, fields),
};

/** An error (or any thrown value) as log fields. */
export function errorFields(error: unknown): { name: string; message: string; stack?: string } {
  if (error instanceof Error) {
    return error.stack
      ? { name: error.name, message: error.message, stack: error.stack }
      : { name: error.name, message: error.message };
  }
  return { name: "Error", message: String(error) };
}
