import { type Diagnosis, diagnose, type VerifyOptions } from "@hookline/core";
import type { Verdict } from "./captures";

export async function verdictOf(options: VerifyOptions): Promise<Verdict> {
  const { valid, ...rest } = await diagnose(options);
  return { status: valid ? "valid" : "invalid", ...rest };
}

/** One line for a verdict: `✔ valid` or `✘ <code>`. */
export function verdictLine(verdict: Verdict): string {
  if (verdict.status === "unverified") return "· unverified (no --secret)";
  return verdict.status === "valid" ? "✔ valid" : `✘ ${verdict.code}`;
}

/** A verdict as `verify` prints it: the line, the message, the hints a person can act on. */
export function formatVerdict(verdict: Verdict | Diagnosis): string {
  const status = "status" in verdict ? verdict.status : verdict.valid ? "valid" : "invalid";
  const lines: string[] = [];
  if (status === "valid") {
    lines.push("✔ valid");
    if (verdict.id !== undefined) lines.push(`  id: ${verdict.id}`);
    if (verdict.timestamp !== undefined) {
      lines.push(`  signed at ${new Date(verdict.timestamp * 1000).toISOString()} (${verdict.skewSeconds ?? 0} s ago)`);
    }
    return lines.join("\n");
  }
  lines.push(`✘ ${verdict.code}: ${verdict.message}`);
  if (verdict.skewSeconds !== undefined && verdict.skewSeconds !== 0) {
    lines.push(
      `  clock skew: ${verdict.skewSeconds} s (${verdict.skewSeconds > 0 ? "signed in the past" : "signed in the future"})`,
    );
  }
  for (const hint of verdict.hints) lines.push(`  → ${hint}`);
  return lines.join("\n");
}
