import type { Logger } from "../logger.ts";
import { createWorkerLoop } from "../worker-loop.ts";
import { createTimezoneResolver } from "../rules/timezone-resolver.ts";
import { createHeldMatches } from "./held-matches.ts";
import {
  DEFAULT_LEASE_MS,
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
 * How long a poke waits for more: every ingest commit with a match pokes, and under
 * load planning each commit's few matches alone cost a transaction of ten round trips
 * per commit, as many as the ingest itself. A tenth of a second is nothing next to a
 * push's delivery, and lets one transaction plan up to USER_MATCH_BATCH matches.
 */
const POKE_DELAY_MS = 100;

/**
 * Expands pending rule matches into notifications in the background. Any number of
 * processes may run one: matches are claimed with SKIP LOCKED, and a fan-out whose
 * pages this process is sending is held under a lease.
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
  const lookups = {
    timezoneOf,
    inFlightOf: (userId: string) => deps.handoff?.inFlight(userId) ?? [],
  };
  const held = createHeldMatches({
    ...deps,
    logger,
    leaseMs: deps.leaseMs ?? DEFAULT_LEASE_MS,
  });
  // Each step plans one page (or batch) in its own transaction.
  const planStep = async () => {
    const step = await expandNextPage({ ...deps, logger }, lookups, held);
    if (step.planned && step.dueNow) onDue();
    return step;
  };
  const loop = createWorkerLoop({
    logger,
    step: async () => (await planStep()).more,
    idleMs: IDLE_POLL_MS,
    pokeDelayMs: POKE_DELAY_MS,
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
      do {
        while ((await planStep()).planned) {
          // Until no match is pending.
        }
        // A fan-out held until its pages were written may have pages left to plan.
        await held.settled();
      } while (held.next() !== undefined);
    },
    async stop() {
      await loop.stop();
      await held.release();
    },
  };
}
