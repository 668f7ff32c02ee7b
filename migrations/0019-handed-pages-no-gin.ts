import { sql, type Kysely } from "kysely";

/*
 * The GIN index on `handed_pages.users` served the array-overlap lookup of what other
 * processes have in flight. That lookup is now a hash join over the few pages of other
 * processes (handed-pages.repository.ts), so the index only cost each page handed over
 * an entry per user to insert and to delete.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`drop index handed_pages_users_idx`.execute(db);
}
