import type { Kysely } from "kysely";

/*
 * The outcome of each rule version's auto-winner test: the variant promoted (null when
 * the last look passed without a winner), when, on which metric and on what figures.
 * Keyed by the rule's version, so a change to the rule starts a new test while the old
 * outcome stays on record. Small: one row per tested rule version.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("rule_winners")
    .addColumn("rule_id", "text", (c) => c.notNull())
    .addColumn("rule_version", "text", (c) => c.notNull())
    .addColumn("variant", "text")
    .addColumn("metric", "text", (c) => c.notNull())
    .addColumn("figures", "jsonb", (c) => c.notNull())
    .addColumn("decided_at", "timestamptz", (c) => c.notNull())
    .addPrimaryKeyConstraint("rule_winners_pkey", ["rule_id", "rule_version"])
    .execute();
}
