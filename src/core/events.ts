import type { Logger } from 'pino';
import type { EventRef } from './refs.ts';

type Listener = { plugin: string; handler: (payload: unknown) => unknown };

/** Deep-freezes a structured clone, so a listener can neither mutate the emitter's object nor another listener's view. */
function frozenCopy<P>(payload: P): P {
  const copy = structuredClone(payload);
  const freeze = (v: unknown) => {
    if (v && typeof v === 'object' && !Object.isFrozen(v)) {
      Object.freeze(v);
      for (const child of Object.values(v)) freeze(child);
    }
  };
  freeze(copy);
  return copy;
}

/**
 * The typed in-process event bus. `emit` resolves once every listener has finished; a listener that
 * throws is logged with its plugin's name and never breaks the emitter or the other listeners.
 * Events are facts: payloads are frozen copies.
 */
export class EventBus {
  readonly #listeners = new Map<string, Listener[]>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  on<P>(event: EventRef<P>, plugin: string, handler: (payload: Readonly<P>) => unknown): void {
    const list = this.#listeners.get(event.id) ?? [];
    list.push({ plugin, handler: handler as (payload: unknown) => unknown });
    this.#listeners.set(event.id, list);
  }

  async emit<P>(event: EventRef<P>, payload: P): Promise<void> {
    const listeners = this.#listeners.get(event.id);
    if (!listeners?.length) return;
    const frozen = frozenCopy(payload);
    const results = await Promise.allSettled(listeners.map(async (l) => l.handler(frozen)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        this.#logger.error(
          { err: r.reason, event: event.id, listener: listeners[i]!.plugin },
          `listener of ${event.id} in plugin '${listeners[i]!.plugin}' failed`,
        );
      }
    });
  }

  listenerCount(event: EventRef<unknown>): number {
    return this.#listeners.get(event.id)?.length ?? 0;
  }
}
