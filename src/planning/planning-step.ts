import type { Database } from "../db/database.ts";
import type { Handoff } from "../delivery/handoff.ts";
import type { Logger } from "../logger.ts";
import type { RuleStore } from "../rules/rule-store.ts";

export type PlannerDeps = {
  db: Database;
  logger: Logger;
  clock: () => Date;
  rules: RuleStore;
  /** This process's delivery, when it runs: notifications due now go straight to it. */
  handoff?: Handoff | undefined;
  /** How long a fan-out stays held by this process without news from it. */
  leaseMs?: number | undefined;
};

/** A fan-out's lease when the deps name none: the delivery lease's default. */
export const DEFAULT_LEASE_MS = 60_000;

/**
 * What one planning step did: nothing (no match waited), or planned, maybe due now;
 * and whether pending matches are known to be left for the next step.
 */
export type PlanStep =
  | { planned: false; more: false }
  | { planned: true; dueNow: boolean; more: boolean };

export type Planned = Extract<PlanStep, { planned: true }>;

/** Recipients planned per transaction: large enough for set-based SQL, small enough to stay short. */
export const PAGE_SIZE = 1_000;
