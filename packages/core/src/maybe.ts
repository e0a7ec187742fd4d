// The node backend answers synchronously and WebCrypto never does. Verification chains its steps through these
// helpers so that the node path never pays for a promise it does not need (each await costs a tick).

/** A value now, or later. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Whether a value is a promise. Not `instanceof Promise`: a runtime that runs the code in another realm (Next's
 * Edge sandbox, a vm context) hands back its own realm's promises.
 */
export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/** Applies `next` now if `value` is ready, else when it is. (Not named `then`: a module exporting `then` is a thenable.) */
export function whenReady<T, R>(value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return isPromise(value) ? value.then(next) : next(value);
}

/** Whether any item passes `test`, tried in order and stopping at the first that does. */
export function some<T>(
  items: readonly T[],
  test: (item: T) => MaybePromise<boolean>,
  from = 0,
): MaybePromise<boolean> {
  for (let index = from; index < items.length; index++) {
    const passed = test(items[index]!);
    if (isPromise(passed)) return passed.then((ok) => ok || some(items, test, index + 1));
    if (passed) return true;
  }
  return false;
}
