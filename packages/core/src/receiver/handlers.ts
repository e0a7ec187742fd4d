import { isPromise, type MaybePromise } from "../maybe";
import type { WebhookEvent } from "./events";
import type { EventHandler, HandlerContext } from "./types";

/** The handlers registered with `on` and `onAny`, and how an event runs through them. */
export function handlerRegistry() {
  const byType = new Map<string, EventHandler<never>[]>();
  const any: EventHandler<never>[] = [];
  // Each type's list, built once per registration rather than on every delivery.
  const lists = new Map<string, EventHandler<never>[]>();
  return {
    on(type: string, handler: EventHandler<never>) {
      const list = byType.get(type) ?? [];
      list.push(handler);
      byType.set(type, list);
      lists.clear();
    },
    onAny(handler: EventHandler<never>) {
      any.push(handler);
      lists.clear();
    },
    /** The type's own handlers in registration order, then the `onAny` ones. Own keys only. Do not modify it. */
    for(type: string): readonly EventHandler<never>[] {
      let list = lists.get(type);
      if (list === undefined) {
        list = [...(byType.get(type) ?? []), ...any];
        if (lists.size < 1_000) lists.set(type, list); // types arrive from the sender; keep the cache bounded
      }
      return list;
    },
  };
}

/**
 * Runs handlers one after the other; the first that throws (or rejects) stops the rest. Synchronous as long as the
 * handlers are (a synchronous throw is thrown), so that a delivery whose handlers return no promise pays for none.
 */
export function runHandlers(
  list: readonly EventHandler<never>[],
  event: WebhookEvent,
  context: HandlerContext<unknown>,
  from = 0,
): MaybePromise<void> {
  for (let index = from; index < list.length; index++) {
    const result = (list[index] as EventHandler<WebhookEvent, unknown>)(event, context);
    if (isPromise(result)) return result.then(() => runHandlers(list, event, context, index + 1));
  }
}
