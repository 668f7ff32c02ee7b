import type { Config } from "./config.ts";
import { openDatabase, type Database } from "./db/database.ts";
import { migrateToLatest } from "./db/migrator.ts";
import type { Logger } from "./logger.ts";
import { createPlanner, type Planner } from "./planning/planner.worker.ts";
import { createRuleStore, type RuleStore } from "./rules/rule-store.ts";

/** Everything long-lived, created once and passed down explicitly. */
export type Deps = {
  config: Config;
  logger: Logger;
  db: Database;
  clock: () => Date;
  rules: RuleStore;
  /** Expands rule matches into notifications; started by main.ts. */
  planner: Planner;
};

/** Creates the process's long-lived clients; `closeDeps` releases them in reverse order. */
export async function createDeps(
  config: Config,
  logger: Logger,
): Promise<Deps> {
  const db = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
  });
  let rules: RuleStore;
  try {
    const applied = await migrateToLatest(db);
    if (applied.length > 0)
      logger.info({ migrations: applied }, "database migrated");
    // The rules live in the database, shared by every process on it.
    rules = await createRuleStore({ db, logger, file: config.rulesFile });
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const clock = () => new Date();
  return {
    config,
    logger,
    db,
    clock,
    rules,
    planner: createPlanner({ db, logger, clock, rules }),
  };
}

export async function closeDeps(deps: Deps): Promise<void> {
  await deps.db.destroy();
}
