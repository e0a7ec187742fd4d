import type { WebhookEvent } from "./events";
import type { EventHandler, HandlerContext } from "./types";

/** The handlers registered with `on` and `onAny`, and how an event runs through them. */
export function handlerRegistry() {
  const byType = new Map<string, EventHandler<never>[]>();
  const any: EventHandler<never>[] = [];
  return {
    on(type: string, handler: EventHandler<never>) {
      const list = byType.get(type) ?? [];
      list.push(handler);
      byType.set(type, list);
    },
    onAny(handler: EventHandler<never>) {
      any.push(handler);
    },
    /** The type's own handlers in registration order, then the `onAny` ones. Own keys only. */
    for(type: string): EventHandler<never>[] {
      return [...(byType.get(type) ?? []), ...any];
    },
  };
}

/** Runs handlers one after the other; the first that throws (or rejects) stops the rest. */
export async function runHandlers(list: EventHandler<never>[], event: WebhookEvent, context: HandlerContext<unknown>) {
  for (const handler of list) await (handler as EventHandler<WebhookEvent, unknown>)(event, context);
}
