import type { Config } from "./config.ts";
import { openDatabase, type Database } from "./db/database.ts";
import { isDatabaseUnavailable } from "./db/availability.ts";
import { migrateToLatest } from "./db/migrator.ts";
import {
  createDeliveryWorker,
  type DeliveryWorker,
} from "./delivery/delivery.worker.ts";
import type { Logger } from "./logger.ts";
import { createMetrics, watchQueues, type Metrics } from "./metrics.ts";
import {
  createSegmentReporter,
  type SegmentReporter,
} from "./delivery/segment-reporter.ts";
import { createPlanner, type Planner } from "./planning/planner.worker.ts";
import { matchRows } from "./planning/match.repository.ts";
import { eventRows } from "./ingest/event.repository.ts";
import { notificationRows } from "./delivery/outbox.repository.ts";
import type { UserRows } from "./profiles/user-rows.ts";
import { createProviders, type Providers } from "./providers/registry.ts";
import { createRuleStore, type RuleStore } from "./rules/rule-store.ts";
import { backoffAfterFailure, logsFailure } from "./worker-loop.ts";

/** Everything long-lived, created once and passed down explicitly. */
export type Deps = {
  config: Config;
  logger: Logger;
  db: Database;
  clock: () => Date;
  rules: RuleStore;
  /** Expands rule matches into notifications; started by main.ts. */
  planner: Planner;
  /** The push services' clients, created once. */
  providers: Providers;
  /** Sends due notifications; started by main.ts when DELIVERY_ENABLED. */
  delivery: DeliveryWorker;
  metrics: Metrics;
  /** Reports outcomes back to Segment (SEGMENT_OUTBOUND_WRITE_KEY). */
  reporter: SegmentReporter | undefined;
  /** The features' rows keyed by user, which a merge moves and an erasure deletes. */
  userRows: readonly UserRows[];
};

/**
 * Each feature's rows keyed by user besides the profile's own, in the order a merge or
 * an erasure writes them: stored events, notification history, rule matches.
 */
const USER_ROWS: readonly UserRows[] = [eventRows, notificationRows, matchRows];

/** Creates the process's long-lived clients; `closeDeps` releases them in reverse order. */
export async function createDeps(
  config: Config,
  logger: Logger,
): Promise<Deps> {
  const db = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
    preparedStatements: config.databasePreparedStatements,
    onConnectionLost: (error) => {
      logger.warn({ err: error }, "database connection lost");
    },
  });
  let rules: RuleStore;
  let providers: Providers;
  try {
    const applied = await whenDatabaseAnswers(logger, () =>
      migrateToLatest(db),
    );
    if (applied.length > 0)
      logger.info({ migrations: applied }, "database migrated");
    // The rules live in the database, shared by every process on it.
    rules = await createRuleStore({ db, logger, file: config.rulesFile });
    providers = await createProviders(config, logger);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return wireDeps({
    config,
    logger,
    db,
    clock: () => new Date(),
    rules,
    providers,
  });
}

/**
 * Wires the workers and metrics around the clients: what createDeps does once it has
 * them, and what tests do around a test database, their own clock and fake providers.
 */
export async function wireDeps(
  parts: Pick<
    Deps,
    "config" | "logger" | "db" | "clock" | "rules" | "providers"
  >,
  options: { reporterFlushAt?: number } = {},
): Promise<Deps> {
  const { config, logger, db, clock, rules, providers } = parts;
  const metrics = createMetrics();
  const reporter =
    config.segmentOutbound === undefined
      ? undefined
      : await createSegmentReporter({
          ...config.segmentOutbound,
          logger,
          ...(options.reporterFlushAt !== undefined && {
            flushAt: options.reporterFlushAt,
          }),
        });
  const delivery = createDeliveryWorker({
    db,
    logger,
    clock,
    rules,
    providers: providers.byPlatform,
    config: config.delivery,
    metrics,
    reporter,
  });
  watchQueues(metrics, { db, clock, laneDepths: () => delivery.depths() });
  return {
    ...parts,
    userRows: USER_ROWS,
    planner: createPlanner(
      {
        db,
        logger,
        clock,
        rules,
        handoff: delivery,
        leaseMs: config.delivery.leaseMs,
      },
      () => {
        delivery.poke();
      },
    ),
    delivery,
    metrics,
    reporter,
  };
}

/**
 * Runs `work` once the database answers: a process started while its database is
 * restarting, failing over or not up yet (a compose file, a cluster coming up) waits
 * for it with backoff instead of exiting; any other error ends the start.
 */
async function whenDatabaseAnswers<T>(
  logger: Logger,
  work: () => Promise<T>,
): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await work();
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      const delay = backoffAfterFailure(failures, error);
      if (logsFailure(failures))
        logger.warn(
          { err: error, failures, retryInMs: Math.round(delay) },
          "waiting for the database",
        );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

export async function closeDeps(deps: Deps): Promise<void> {
  await deps.reporter?.close();
  await deps.providers.close();
  await deps.db.destroy();
}
