/** What the engine contracts (deliveries, inbox) share: checks that name the contract, waiting, small utilities. */

/** Throws `<contract> contract violated: <message>` unless `condition` holds. */
export type Check = (condition: unknown, message: string) => asserts condition;

/** The contract's own check, and `eventually`, which polls until a condition holds or fails through that check. */
export function contractChecks(contract: string) {
  const check: Check = (condition, message) => {
    if (!condition) throw new Error(`${contract} contract violated: ${message}`);
  };
  /** Resolves once `condition` holds, polling; fails with `what` after `timeoutMs`. */
  async function eventually(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      check(Date.now() < deadline, `timed out after ${timeoutMs} ms waiting until ${what}`);
      await sleep(10);
    }
  }
  return { check, eventually };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const json = (value: unknown) => JSON.stringify(value);
export const unique = (prefix: string) => `${prefix}${crypto.randomUUID().replaceAll("-", "")}`;
