import { sql, type Kysely } from "kysely";
import type { DB, JsonObject, RulesSource } from "../db/schema.ts";

export type StoredRules = {
  version: string;
  document: JsonObject;
  source: RulesSource;
  updatedAt: Date;
};

/**
 * Serialises writers of the rules for the rest of the caller's transaction. A table
 * lock rather than `FOR UPDATE` on the newest row, because the first write has no row
 * to lock; readers are not blocked, and writes are rare.
 */
export async function lockRulesDocuments(db: Kysely<DB>): Promise<void> {
  await sql`lock table rules_documents in share row exclusive mode`.execute(db);
}

/** The rules in force: the document written last. */
export async function findCurrentRules(
  db: Kysely<DB>,
): Promise<StoredRules | undefined> {
  const row = await db
    .selectFrom("rules_documents")
    .select(["version", "document", "source", "updated_at"])
    .orderBy("updated_at", "desc")
    .limit(1)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : {
        version: row.version,
        document: row.document,
        source: row.source,
        updatedAt: row.updated_at,
      };
}

/** The version in force, without its document: what every process polls. */
export async function findCurrentVersion(
  db: Kysely<DB>,
): Promise<string | undefined> {
  const row = await db
    .selectFrom("rules_documents")
    .select("version")
    .orderBy("updated_at", "desc")
    .limit(1)
    .executeTakeFirst();
  return row?.version;
}

/** The hash of the rules file loaded last, by any process. */
export async function findLastFileHash(
  db: Kysely<DB>,
): Promise<string | undefined> {
  const row = await db
    .selectFrom("rules_documents")
    .select("file_hash")
    .where("file_loaded_at", "is not", null)
    .orderBy("file_loaded_at", "desc")
    .limit(1)
    .executeTakeFirst();
  return row?.file_hash ?? undefined;
}

/**
 * Makes a document the current rules. A version stored before becomes current again
 * (an undone edit returns to its old version) and keeps the record of the file it was
 * loaded from. Call it with the table locked: the write time is taken after the lock,
 * and is always later than every other row's, whatever the clocks of the processes.
 */
export async function storeRulesDocument(
  db: Kysely<DB>,
  stored: {
    version: string;
    document: JsonObject;
    source: RulesSource;
    fileHash: string | undefined;
  },
): Promise<void> {
  const writtenAt = sql<Date>`greatest(clock_timestamp(), (select max(updated_at) + interval '1 millisecond' from rules_documents))`;
  await db
    .insertInto("rules_documents")
    .values({
      version: stored.version,
      document: JSON.stringify(stored.document),
      source: stored.source,
      file_hash: stored.fileHash ?? null,
      file_loaded_at: stored.fileHash === undefined ? null : writtenAt,
      created_at: writtenAt,
      updated_at: writtenAt,
    })
    .onConflict((oc) =>
      oc.column("version").doUpdateSet((eb) => ({
        document: eb.ref("excluded.document"),
        source: eb.ref("excluded.source"),
        file_hash: sql<
          string | null
        >`coalesce(excluded.file_hash, rules_documents.file_hash)`,
        file_loaded_at: sql<Date | null>`coalesce(excluded.file_loaded_at, rules_documents.file_loaded_at)`,
        updated_at: eb.ref("excluded.updated_at"),
      })),
    )
    .execute();
}
