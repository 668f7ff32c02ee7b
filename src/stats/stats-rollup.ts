import type { Database } from "../db/database.ts";
import { inTransaction } from "../db/transaction.ts";
import type { Logger } from "../logger.ts";
import { createWorkerLoop, type WorkerLoop } from "../worker-loop.ts";
import { refreshStaleBuckets } from "./stats.repository.ts";

/** Buckets recomputed per transaction: a few hundred ms at most, so none waits long. */
const BUCKETS_PER_TRANSACTION = 200;
const REFRESH_EVERY_MS = 10_000;

export type RefreshScope = {
  ruleId?: string | undefined;
  from?: Date;
  to?: Date;
};

const refreshSome = async (db: Database, scope: RefreshScope) =>
  inTransaction(db, (trx) =>
    refreshStaleBuckets(trx, scope, BUCKETS_PER_TRANSACTION),
  );

/** Recomputes every stale bucket of the scope; returns how many there were. */
export async function refreshStats(
  db: Database,
  scope: RefreshScope,
): Promise<number> {
  let total = 0;
  for (;;) {
    const refreshed = await refreshSome(db, scope);
    total += refreshed;
    if (refreshed < BUCKETS_PER_TRANSACTION) return total;
  }
}

/**
 * Keeps the hourly stats rollup close to the notifications in the background, so that
 * a stats query seldom has buckets of its own to recompute first.
 */
export function createStatsRollup(deps: {
  db: Database;
  logger: Logger;
}): WorkerLoop {
  return createWorkerLoop({
    logger: deps.logger.child({ module: "stats-rollup" }),
    idleMs: REFRESH_EVERY_MS,
    failure: "stats rollup refresh failed",
    step: async () =>
      (await refreshSome(deps.db, {})) === BUCKETS_PER_TRANSACTION,
  });
}
