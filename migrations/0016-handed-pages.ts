import { sql, type Kysely } from "kysely";

/*
 * The pages of a fan-out a process has handed to its delivery unwritten: their pushes
 * have no row until their outcome is written, and a planner in another process must
 * count them in caps and dedupe all the same. One row per page, its users in an array
 * (a GIN index finds the pages a planned page overlaps), deleted once the page is
 * written; a row whose process died is ignored once `until`, its lease, has passed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("handed_pages")
    .addColumn("page_id", "text", (c) => c.primaryKey())
    .addColumn("owner", "text", (c) => c.notNull())
    .addColumn("match_id", "text", (c) => c.notNull())
    .addColumn("rule_id", "text", (c) => c.notNull())
    .addColumn("item_key", "text")
    // A silent rule's pushes: not counted by settings.frequencyCap.
    .addColumn("uncapped", "boolean", (c) => c.notNull())
    .addColumn("users", sql`text[]`, (c) => c.notNull())
    .addColumn("until", "timestamptz", (c) => c.notNull())
    .execute();
  await sql`create index handed_pages_users_idx on handed_pages using gin (users)`.execute(
    db,
  );
}
