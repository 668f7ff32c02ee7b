import type { Logger } from "../logger.ts";
import { createWorkerLoop } from "../worker-loop.ts";
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

/**
 * Expands pending rule matches into notifications in the background. Any number of
 * processes may run one: matches are claimed with SKIP LOCKED.
 */
export function createPlanner(
  deps: PlannerDeps,
  /** Called after a page planned notifications due now: delivery has work. */
  onDue: () => void = () => undefined,
): Planner {
  const logger: Logger = deps.logger.child({ module: "planner" });
  const timezoneOf = createTimezoneResolver(
    logger,
    () => deps.rules.current().settings,
  );
  // Each step plans one page (or batch) in its own transaction.
  const planOnePage = async () => {
    const step = await expandNextPage(deps, timezoneOf);
    if (step.planned && step.dueNow) onDue();
    return step.planned;
  };
  const loop = createWorkerLoop({
    logger,
    step: planOnePage,
    idleMs: IDLE_POLL_MS,
    failure: "planning failed",
  });
  return {
    start: () => {
      loop.start();
    },
    poke: () => {
      loop.poke();
    },
    async drain() {
      while (await planOnePage()) {
        // Until no match is pending.
      }
    },
    stop: () => loop.stop(),
  };
}
