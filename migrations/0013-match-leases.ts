import { sql, type Kysely } from "kysely";

/*
 * A fan-out's pushes due now are handed from planning straight to delivery, and each
 * notification is written once, with its outcome. Until those outcomes are written, the
 * match's `cursor` stays where the last fully recorded page ended, and the process
 * sending the pages holds the match under a lease: `claimed_by` names the claim (a
 * fencing token for its progress writes), `claimed_until` ends it. Another process takes
 * a match only once its lease has lapsed, and then plans again from `cursor`, skipping
 * recipients whose notification was written meanwhile.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table rule_matches
      add column claimed_by text,
      add column claimed_until timestamptz`.execute(db);
}
