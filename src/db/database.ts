import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect, PostgresDialect } from "kysely";
import pg from "pg";
import type { DB } from "./schema.ts";

export type Database = Kysely<DB>;

export type DatabaseOptions = {
  /** A postgres:// URL for a real server; otherwise PGlite is used. */
  url?: string | undefined;
  /** PGlite's data directory, or "memory://" for a throwaway database. */
  dataDir?: string | undefined;
  poolSize?: number | undefined;
};

/** Opens Kysely over a real PostgreSQL (pg pool) or the embedded PGlite. */
export async function openDatabase(
  options: DatabaseOptions,
): Promise<Database> {
  if (options.url !== undefined) {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
    });
    return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  }
  const dataDir = options.dataDir ?? "memory://";
  if (!dataDir.includes("://")) await mkdir(dataDir, { recursive: true });
  const pglite = await PGlite.create(dataDir);
  return new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
}

/** Whether the database is the embedded single-connection PGlite. */
export function describeDatabase(options: DatabaseOptions): string {
  return options.url !== undefined
    ? "postgres"
    : `pglite (${options.dataDir ?? "memory://"})`;
}
