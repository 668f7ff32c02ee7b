import { loadConfig } from "./config.ts";
import { describeDatabase, openDatabase } from "./db/database.ts";
import { migrateToLatest } from "./db/migrator.ts";
import { createLogger } from "./logger.ts";

/** `npm run migrate`: applies pending migrations and exits. Startup does the same. */
const config = loadConfig();
const logger = createLogger(config.logLevel);
const options = { url: config.databaseUrl, dataDir: config.dataDir };
const db = await openDatabase(options);
try {
  const applied = await migrateToLatest(db);
  logger.info(
    { database: describeDatabase(options), applied },
    "migrations up to date",
  );
} finally {
  await db.destroy();
}
