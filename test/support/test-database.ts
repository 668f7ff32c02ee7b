import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, inject } from "vitest";
import { openDatabase, type Database } from "../../src/db/database.ts";
import { migrateToLatest } from "../../src/db/migrator.ts";
import { adminQuery, withDatabase } from "./global-setup.ts";

export type TestDatabase = {
  db: Database;
  kind: "postgres" | "pglite";
  /** The postgres:// URL of this database (real Postgres only), for a second process. */
  url: string | undefined;
  close(): Promise<void>;
};

/**
 * A fresh, migrated database of its own: a clone of the migrated template on real
 * Postgres (TEST_DATABASE_URL), an in-memory PGlite otherwise. Tests within one file
 * share it and keep apart by using fresh random ids.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  const template = inject("templateDatabase");
  if (serverUrl === undefined || serverUrl === "" || template === undefined) {
    const db = await openDatabase({ dataDir: "memory://" });
    await migrateToLatest(db);
    return { db, kind: "pglite", url: undefined, close: () => db.destroy() };
  }
  const name = `${template}_${randomBytes(4).toString("hex")}`;
  await adminQuery(serverUrl, `create database ${name} template ${template}`);
  const url = withDatabase(serverUrl, name);
  const db = await openDatabase({ url });
  return {
    db,
    kind: "postgres",
    url,
    close: async () => {
      await db.destroy();
      await dropWhenDisconnected(serverUrl, name);
    },
  };
}

/**
 * pg's pool.end() resolves as soon as it has asked its connections to close, not when
 * they have: dropping WITH (FORCE) right away kills a connection still closing, whose
 * FATAL 57P01 then surfaces as an unhandled error. So wait (briefly) for them to go.
 */
async function dropWhenDisconnected(
  serverUrl: string,
  name: string,
): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const [row] = await adminQuery(
      serverUrl,
      `select count(*)::int as connected from pg_stat_activity where datname = '${name}'`,
    );
    if (row?.connected === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await adminQuery(serverUrl, `drop database if exists ${name} with (force)`);
}

/**
 * Another connection pool to the same database, as a second Nudge process would open.
 * PGlite serves one process, so there it is the same connection.
 */
export async function connectAgain(
  database: TestDatabase,
): Promise<{ db: Database; close(): Promise<void> }> {
  if (database.url === undefined)
    return { db: database.db, close: () => Promise.resolve() };
  const db = await openDatabase({ url: database.url });
  return { db, close: () => db.destroy() };
}

/** A unique id for one test's users, messages and devices. */
export function uniqueId(prefix = "id"): string {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}

/** A random APNs device token (64 hex digits). */
export function apnsToken(): string {
  return randomBytes(32).toString("hex");
}

/** A random FCM registration token (not hex, as real ones are). */
export function fcmToken(): string {
  return `${uniqueId("fcm")}:APA91b${randomBytes(24).toString("base64url")}`;
}

/**
 * One database for the calling test file: created before its tests, dropped after
 * them. Read `database` inside tests and hooks.
 */
export function useTestDatabase(): { readonly database: TestDatabase } {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.close();
  });
  return {
    get database() {
      if (database === undefined) {
        throw new Error("useTestDatabase: the database opens in beforeAll");
      }
      return database;
    },
  };
}
