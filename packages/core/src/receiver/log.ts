import type { ReceiverLogger } from "./types";

/** Warnings and errors on the console; routine deliveries stay quiet. */
export const consoleLogger: ReceiverLogger = {
  info() {},
  warn: (fields, message) => console.warn(`[hookline] ${message}`, fields),
  error: (fields, message) => console.error(`[hookline] ${message}`, fields),
};

/**
 * An error (or any thrown value) as log fields. Never throws: handlers can throw anything, including values
 * `String()` cannot convert (`Object.create(null)`) and proxies whose every trap throws.
 */
export function errorFields(error: unknown): { name: string; message: string; stack?: string } {
  try {
    if (error instanceof Error) {
      const name = String(error.name);
      const message = String(error.message);
      return typeof error.stack === "string" && error.stack !== ""
        ? { name, message, stack: error.stack }
        : { name, message };
    }
    return { name: "Error", message: String(error) };
  } catch {
    return { name: "Error", message: `a thrown ${typeof error} that cannot be converted to text` };
  }
}

/** The logger, made unable to throw: a failing log line must never change an answer or crash the process. */
export function safeLogger(logger: ReceiverLogger): ReceiverLogger {
  const guard =
    (level: keyof ReceiverLogger) =>
    (fields: Record<string, unknown>, message: string): void => {
      try {
        logger[level](fields, message);
      } catch {
        // Nowhere left to report it.
      }
    };
  return { info: guard("info"), warn: guard("warn"), error: guard("error") };
}
