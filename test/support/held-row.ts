import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { adminQuery } from "./global-setup.ts";

/*
 * For tests of two requests racing on real PostgreSQL: a transaction of the test's own
 * holds a row that one request must write, so that it waits while the other commits.
 */

/** A row to hold: an insert statement and its values. */
export type RowToHold = { text: string; values: unknown[] };

/** An APNs device holding `token`: a request writing that token waits for it. */
export function heldDevice(token: string): RowToHold {
  return {
    text: "insert into devices (user_id, device_id, platform, token, status) values ('holder', 'holder', 'apns', $1, 'active')",
    values: [token],
  };
}

/** An alias of `aliasId`: a request linking that id to a user waits for it. */
export function heldAlias(aliasId: string): RowToHold {
  return {
    text: "insert into profile_aliases (alias_id, user_id, created_at) values ($1, 'holder', now())",
    values: [aliasId],
  };
}

/** Inserts a row in a transaction left open until `release` rolls it back. */
async function holdRow(
  url: string,
  row: RowToHold,
): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("begin");
  await client.query(row.text, row.values);
  return {
    release: async () => {
      await client.query("rollback");
      await client.end();
    },
  };
}

/** Resolves once one connection to the database waits for a lock: the held row. */
async function untilOneWaitsForALock(url: string): Promise<void> {
  for (let attempt = 0; attempt < 250; attempt++) {
    const [row] = await adminQuery(
      url,
      `select count(*)::int as waiting from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock'`,
    );
    if (row?.waiting === 1) return;
    await sleep(20);
  }
  throw new Error("no request came to wait for the held row");
}

/**
 * Runs `waiting` while `held` is held, then `meanwhile` once it waits for it; releases
 * the row and resolves when both are done.
 */
export async function whileOneWaits(
  url: string,
  held: RowToHold,
  waiting: () => Promise<unknown>,
  meanwhile: () => Promise<unknown>,
): Promise<void> {
  const row = await holdRow(url, held);
  let first: Promise<unknown> | undefined;
  try {
    first = waiting();
    await untilOneWaitsForALock(url);
    await meanwhile();
  } finally {
    await row.release();
  }
  await first;
}
