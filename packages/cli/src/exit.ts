import { HooklineError } from "@hookline/core";

/**
 * The exit codes, the same for every command:
 * 0 success; 1 the check failed (invalid signature, non-2xx answer, data that fails its schema);
 * 2 a usage or input error (bad option, unreadable file, unknown capture); 3 no answer (connection refused, timeout).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  the check failed: invalid signature, a non-2xx answer, data that fails its schema
  2  usage or input error: a bad option, an unreadable file, an unknown capture
  3  no answer: connection refused or timed out`;

/** A mistake in how the command was called: exit 2 with the message. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Nobody answered: exit 3. */
export class UnreachableError extends Error {
  override readonly name = "UnreachableError";
}

/** The exit code and message for an error thrown by a command. */
export function exitFor(error: unknown): { code: number; message: string } {
  if (error instanceof UsageError) return { code: EXIT.usage, message: error.message };
  if (error instanceof UnreachableError) return { code: EXIT.unreachable, message: error.message };
  // A bad secret or option given on the command line is the caller's mistake too.
  if (error instanceof HooklineError) return { code: EXIT.usage, message: `${error.code}: ${error.message}` };
  return { code: EXIT.failed, message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
}
