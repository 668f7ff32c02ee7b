import type { Logger } from "./logger.ts";

export type WorkerLoop = {
  start(): void;
  /** Asks the loop to look for work now instead of at its next poll. */
  poke(): void;
  /** Stops after the step under way; resolves when it has. */
  stop(): Promise<void>;
};

const MAX_BACKOFF_MS = 30_000;

/**
 * Runs `step` over and over in the background: at once while it says there may be more
 * work, otherwise after `idleMs` or a poke. A failed step is logged and retried with
 * backoff and jitter; the loop never throws.
 */
export function createWorkerLoop(options: {
  logger: Logger;
  /** One unit of work; true when there may be more right away. */
  step: () => Promise<boolean>;
  idleMs: number;
  /** How long a poke waits before the step, so that pokes close together make one. */
  pokeDelayMs?: number;
  /** The log message when a step fails, e.g. "planning failed". */
  failure: string;
}): WorkerLoop {
  const { logger, step, pokeDelayMs = 0 } = options;
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: ((afterMs: number) => void) | undefined;
  // A poke while working is remembered, so the next sleep is cut short.
  let poked = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        wake = undefined;
        resolve();
      };
      let shortened = poked;
      let timer = setTimeout(done, poked ? pokeDelayMs : ms);
      poked = false;
      wake = (afterMs) => {
        if (shortened && afterMs > 0) return;
        shortened = true;
        clearTimeout(timer);
        if (afterMs > 0) timer = setTimeout(done, afterMs);
        else done();
      };
    });

  const run = async () => {
    let failures = 0;
    while (running) {
      try {
        const more = await step();
        failures = 0;
        if (!more) await sleep(options.idleMs);
      } catch (error) {
        failures++;
        const delay =
          Math.min(MAX_BACKOFF_MS, 250 * 2 ** failures) *
          (0.5 + Math.random() / 2);
        logger.error(
          { err: error, failures, retryInMs: Math.round(delay) },
          options.failure,
        );
        await sleep(delay);
      }
    }
  };

  return {
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    poke() {
      if (wake === undefined) poked = true;
      else wake(pokeDelayMs);
    },
    async stop() {
      running = false;
      wake?.(0);
      await loop;
      loop = undefined;
    },
  };
}
