const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

/**
 * The URL of a service a test suite needs (such as `REDIS_URL`), from the environment. When it is missing the
 * suite skips loudly on a developer's machine, and fails under CI (`CI` set), where a skipped service suite
 * would hide a broken setup.
 *
 * @example
 * const url = serviceUrl("REDIS_URL");
 * describe.skipIf(!url)("redis store", () => { … });
 */
export function serviceUrl(variable: string): string | undefined {
  const value = env[variable];
  if (value) return value;
  if (env.CI && env.CI !== "false" && env.CI !== "0") {
    throw new Error(`${variable} is not set, and CI must run this suite: start the service first (.ci/services.sh)`);
  }
  console.warn(
    `\n⚠  ${variable} is not set: SKIPPING the suites that need it. Start the services with\n` +
      `   eval "$(bash .ci/services.sh)"   and run the tests again.\n`,
  );
  return undefined;
}
