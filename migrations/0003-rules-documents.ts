import { sql, type Kysely } from "kysely";

/*
 * The rules in force, shared by every Nudge process on the database. One row per
 * distinct document, keyed by its content hash: storing a document again makes it
 * current again instead of adding a row, so an edit that is undone returns to the
 * version it came from. The current rules are the row written last (updated_at).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("rules_documents")
    .addColumn("version", "text", (c) => c.primaryKey())
    // json, not jsonb: the admin API shows the document as written, keys in their order.
    .addColumn("document", "json", (c) => c.notNull())
    // Who wrote the document last: the rules file or the admin API.
    .addColumn("source", "text", (c) =>
      c.notNull().check(sql`source in ('file', 'api')`),
    )
    // The rules file this document was last loaded from, and when: a process starting
    // with the same file keeps later API edits, a changed file replaces them.
    .addColumn("file_hash", "text")
    .addColumn("file_loaded_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addColumn("updated_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .execute();
  // Every process polls for the newest document.
  await db.schema
    .createIndex("rules_documents_updated_at_idx")
    .on("rules_documents")
    .column("updated_at")
    .execute();
}
