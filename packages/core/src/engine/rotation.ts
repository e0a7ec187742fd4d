import type { EndpointSecret } from "./types";

/**
 * An endpoint's secrets after a rotation: `secret` first, then the old ones still unexpired at `at`, each expiring at
 * `expiresAt` at the latest (the rotation's grace); expired ones go. What an engine's `endpoints.rotateSecret`
 * stores, in one atomic step.
 */
export function rotatedSecrets(
  secrets: readonly EndpointSecret[],
  secret: EndpointSecret,
  { at, expiresAt }: { at: number; expiresAt: number },
): EndpointSecret[] {
  const kept = secrets
    .filter((item) => item.expiresAt === undefined || item.expiresAt > at)
    .map((item) => ({ ...item, expiresAt: Math.min(item.expiresAt ?? expiresAt, expiresAt) }));
  return [secret, ...kept];
}
