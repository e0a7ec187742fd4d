// The node backend answers synchronously and WebCrypto never does. Verification chains its steps through these
// helpers so that the node path never pays for a promise it does not need (each await costs a tick).

/** A value now, or later. */
export type MaybePromise<T> = T | Promise<T>;

/** Applies `next` now if `value` is ready, else when it is. (Not named `then`: a module exporting `then` is a thenable.) */
export function whenReady<T, R>(value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** Whether any item passes `test`, tried in order and stopping at the first that does. */
export function some<T>(
  items: readonly T[],
  test: (item: T) => MaybePromise<boolean>,
  from = 0,
): MaybePromise<boolean> {
  for (let index = from; index < items.length; index++) {
    const passed = test(items[index]!);
    if (passed instanceof Promise) return passed.then((ok) => ok || some(items, test, index + 1));
    if (passed) return true;
  }
  return false;
}
