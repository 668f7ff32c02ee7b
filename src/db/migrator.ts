import { Migrator } from "kysely/migration";
import { migrations } from "../../migrations/index.ts";
import type { Database } from "./database.ts";

/**
 * Applies every pending migration. Kysely's migrator takes a lock, so several
 * Nudge processes starting at once against one Postgres are safe.
 */
export async function migrateToLatest(db: Database): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    throw error instanceof Error
      ? error
      : new Error("migration failed", { cause: error });
  }
  return (results ?? []).map((result) => result.migrationName);
}

/** The migrations this code knows that the database has not applied yet. */
export async function pendingMigrations(db: Database): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
  const known = await migrator.getMigrations();
  return known
    .filter((migration) => migration.executedAt === undefined)
    .map((migration) => migration.name);
}
