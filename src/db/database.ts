import { mkdir } from "node:fs/promises";
import { Kysely, PGliteDialect, PostgresDialect } from "kysely";
import { prepareRepeatedStatements } from "./prepared-statements.ts";
import type { DB } from "./schema.ts";

export type Database = Kysely<DB>;

export type DatabaseOptions = {
  /** A postgres:// URL for a real server; otherwise PGlite is used. */
  url?: string | undefined;
  /** PGlite's data directory, or "memory://" for a throwaway database. */
  dataDir?: string | undefined;
  poolSize?: number | undefined;
  /** Prepare the statements run over and over (real PostgreSQL only; default true). */
  preparedStatements?: boolean | undefined;
};

/**
 * Opens Kysely over a real PostgreSQL (pg pool) or the embedded PGlite. Each driver is
 * imported only when chosen: a process keeps in memory only the one it uses.
 */
export async function openDatabase(
  options: DatabaseOptions,
): Promise<Database> {
  if (options.url !== undefined) {
    const { default: pg } = await import("pg");
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
    });
    if (options.preparedStatements ?? true) prepareRepeatedStatements(pool);
    return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  }
  const dataDir = options.dataDir ?? "memory://";
  if (!dataDir.includes("://")) await mkdir(dataDir, { recursive: true });
  const { PGlite } = await import("@electric-sql/pglite");
  const pglite = await PGlite.create(dataDir, {
    serializers: { [BYTEA]: byteaText },
  });
  return new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
}

/** PGlite's own bytea serializer makes a string per byte: too slow for packed texts. */
const BYTEA = 17;
const byteaText = (bytes: Uint8Array): string =>
  `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;

/** Whether the database is the embedded single-connection PGlite. */
export function describeDatabase(options: DatabaseOptions): string {
  return options.url !== undefined
    ? "postgres"
    : `pglite (${options.dataDir ?? "memory://"})`;
}
