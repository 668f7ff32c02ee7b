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
  /**
   * Told when a pooled connection dies outside a query (a server restart, failover,
   * `pg_terminate_backend`): the pool drops it and opens another when one is needed.
   */
  onConnectionLost?: ((error: Error) => void) | undefined;
};

/** How long a query waits for a connection before it fails as unavailable. */
const CONNECT_TIMEOUT_MS = 5_000;

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
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // Finds a connection whose server vanished without closing it (a failover).
      keepAlive: true,
    });
    // Without listeners, a dead connection's error is thrown and ends the process:
    // the pool re-emits an idle connection's, and a connection checked out between
    // queries (inside a transaction) emits its own, whose next query then fails and
    // is retried. Each client's listener hears both cases, so it alone reports.
    const lost = options.onConnectionLost ?? (() => undefined);
    pool.on("error", () => undefined);
    pool.on("connect", (client) => client.on("error", lost));
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
