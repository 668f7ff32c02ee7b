import type { Config } from "./config.ts";
import { openDatabase, type Database } from "./db/database.ts";
import { migrateToLatest } from "./db/migrator.ts";
import type { Logger } from "./logger.ts";
import { createRuleStore, type RuleStore } from "./rules/rule-store.ts";

/** Everything long-lived, created once and passed down explicitly. */
export type Deps = {
  config: Config;
  logger: Logger;
  db: Database;
  clock: () => Date;
  rules: RuleStore;
};

/** Creates the process's long-lived clients; `closeDeps` releases them in reverse order. */
export async function createDeps(
  config: Config,
  logger: Logger,
): Promise<Deps> {
  const rules = await createRuleStore(config.rulesFile, logger);
  const db = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
  });
  try {
    const applied = await migrateToLatest(db);
    if (applied.length > 0)
      logger.info({ migrations: applied }, "database migrated");
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return { config, logger, db, clock: () => new Date(), rules };
}

export async function closeDeps(deps: Deps): Promise<void> {
  await deps.db.destroy();
}
