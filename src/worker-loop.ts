import { isDatabaseUnavailable } from "./db/availability.ts";
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
 * The longest wait while the database is away: short enough that work resumes within
 * seconds of its return, long enough that a long outage costs nothing.
 */
const MAX_UNAVAILABLE_BACKOFF_MS = 4_000;

/**
 * The wait before the next try after `failures` failures in a row: exponential with
 * jitter, capped lower while the database is merely away than for any other error.
 */
export function backoffAfterFailure(failures: number, error: unknown): number {
  const cap = isDatabaseUnavailable(error)
    ? MAX_UNAVAILABLE_BACKOFF_MS
    : MAX_BACKOFF_MS;
  return Math.min(cap, 250 * 2 ** failures) * (0.5 + Math.random() / 2);
}

/**
 * Whether the `failures`-th failure in a row is logged: the 1st, 2nd, 4th, 8th… so an
 * outage of an hour writes a dozen lines, not a thousand.
 */
export function logsFailure(failures: number): boolean {
  return (failures & (failures - 1)) === 0;
}

type WorkerLoopOptions = {
  logger: Logger;
  /** One unit of work; true when there may be more right away. */
  step: () => Promise<boolean>;
  idleMs: number;
  /** How long a poke waits before the step, so that pokes close together make one. */
  pokeDelayMs?: number;
  /** The log message when a step fails, e.g. "planning failed". */
  failure: string;
};

/**
 * Runs `step` over and over in the background: at once while it says there may be more
 * work, otherwise after `idleMs` or a poke. A failed step is retried with backoff and
 * jitter (see `backoffAfterFailure`), logged sparsely (`logsFailure`), and the first
 * success after failures is logged too; the loop never throws.
 */
export function createWorkerLoop(options: WorkerLoopOptions): WorkerLoop {
  const pokeDelayMs = options.pokeDelayMs ?? 0;
  const state: LoopState = {
    pokeDelayMs,
    running: false,
    loop: undefined,
    wake: undefined,
    poked: false,
  };
  return {
    start() {
      if (state.running) return;
      state.running = true;
      state.loop = runSteps(options, state);
    },
    poke() {
      if (state.wake === undefined) state.poked = true;
      else state.wake(pokeDelayMs);
    },
    async stop() {
      state.running = false;
      state.wake?.(0);
      await state.loop;
      state.loop = undefined;
    },
  };
}

/** What a loop's steps, sleeps and pokes share. */
type LoopState = {
  readonly pokeDelayMs: number;
  running: boolean;
  loop: Promise<void> | undefined;
  /** Ends the sleep under way, after `afterMs`; undefined while working. */
  wake: ((afterMs: number) => void) | undefined;
  /** A poke while working is remembered, so the next sleep is cut short. */
  poked: boolean;
};

async function runSteps(
  options: WorkerLoopOptions,
  state: LoopState,
): Promise<void> {
  const { logger, step } = options;
  let failures = 0;
  while (state.running) {
    try {
      const more = await step();
      if (failures > 0) logger.info({ failures }, "recovered");
      failures = 0;
      if (!more) await sleep(state, options.idleMs);
    } catch (error) {
      failures++;
      const delay = backoffAfterFailure(failures, error);
      if (logsFailure(failures))
        logger.error(
          { err: error, failures, retryInMs: Math.round(delay) },
          options.failure,
        );
      await sleep(state, delay);
    }
  }
}

/**
 * Waits `ms`, cut short by the first poke to `pokeDelayMs`: later pokes do not push
 * its end back, so pokes close together make one step. A wake of 0 (stop) ends it now.
 */
function sleep(state: LoopState, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      state.wake = undefined;
      resolve();
    };
    let shortened = state.poked;
    let timer = setTimeout(done, state.poked ? state.pokeDelayMs : ms);
    state.poked = false;
    state.wake = (afterMs) => {
      if (shortened && afterMs > 0) return;
      shortened = true;
      clearTimeout(timer);
      if (afterMs > 0) timer = setTimeout(done, afterMs);
      else done();
    };
  });
}
