import type { Logger } from "../logger.ts";
import {
  createTimezoneResolver,
  expandNextPage,
  type PlannerDeps,
} from "./planner.service.ts";

export type Planner = {
  start(): void;
  /** Asks the planner to look for work now (after an ingest recorded matches). */
  poke(): void;
  /** Plans until no match is pending; for tests and tools. */
  drain(): Promise<void>;
  stop(): Promise<void>;
};

const IDLE_POLL_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * Expands pending rule matches into notifications in the background. Any number of
 * processes may run one: matches are claimed with SKIP LOCKED. Errors are logged and
 * retried with backoff; the loop never throws.
 */
export function createPlanner(
  deps: PlannerDeps,
  /** Called after each planned page: delivery may have new work. */
  onPlanned: () => void = () => undefined,
): Planner {
  const logger: Logger = deps.logger.child({ module: "planner" });
  const timezoneOf = createTimezoneResolver(
    logger,
    () => deps.rules.current().settings,
  );
  let stopped = true;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  // A poke while planning is remembered, so the next sleep is skipped.
  let poked = false;

  /** Plans page after page until nothing is pending, or until `shouldStop` says so. */
  const planUntilIdle = async (shouldStop: () => boolean) => {
    while (!shouldStop() && (await expandNextPage(deps, timezoneOf))) {
      // Each call plans one page in its own transaction.
      onPlanned();
    }
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (poked) {
        poked = false;
        resolve();
        return;
      }
      const timer = setTimeout(resolve, ms);
      wake = () => {
        poked = false;
        clearTimeout(timer);
        resolve();
      };
    });

  const run = async () => {
    let failures = 0;
    while (!stopped) {
      try {
        await planUntilIdle(() => stopped);
        failures = 0;
        await sleep(IDLE_POLL_MS);
      } catch (error) {
        failures++;
        const delay =
          Math.min(MAX_BACKOFF_MS, 250 * 2 ** failures) *
          (0.5 + Math.random() / 2);
        logger.error(
          { err: error, failures, retryInMs: Math.round(delay) },
          "planning failed",
        );
        await sleep(delay);
      }
    }
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loop = run();
    },
    poke() {
      poked = true;
      wake?.();
    },
    drain: () => planUntilIdle(() => false),
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      loop = undefined;
    },
  };
}
