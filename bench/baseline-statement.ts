/**
 * The hand-written INSERT … SELECT of `insertBaselineNotifications`, timed on one
 * connection with the CPU of the backend that ran it: the planning benchmark's
 * baseline, and in the delivery benchmark what writing the notifications a fan-out
 * sends costs PostgreSQL in one set-based statement.
 */
import { sql, type Kysely } from "kysely";
import type { DB } from "../src/db/schema.ts";
import { processCpuSeconds } from "./cpu-usage.ts";
import {
  insertBaselineNotifications,
  setAsideNudgeRows,
} from "./fanout-audience.ts";

/** The statement's wall time, the rows it wrote, and its backend's CPU seconds. */
export type StatementRun = {
  seconds: number;
  inserted: number;
  postgresCpu: number | undefined;
};

/**
 * Ends a checkpoint before a timed run, so the WAL of the setup is not flushed during
 * it. Needs superuser (or pg_checkpoint); without, the run goes on unflushed.
 */
export async function settle(db: Kysely<DB>): Promise<void> {
  try {
    await sql`checkpoint`.execute(db);
  } catch {
    // Not allowed to checkpoint: measure anyway.
  }
}

/** Runs the statement for `matchId` on one connection, with the CPU its backend used. */
export async function measureStatement(
  db: Kysely<DB>,
  matchId: string,
): Promise<StatementRun> {
  return db.connection().execute(async (connection) => {
    const { rows } = await sql<{
      pid: number;
    }>`select pg_backend_pid() as pid`.execute(connection);
    const pid = rows[0]?.pid ?? 0;
    const cpuBefore = await processCpuSeconds(pid);
    const started = performance.now();
    const inserted = await insertBaselineNotifications(connection, matchId);
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = await processCpuSeconds(pid);
    const postgresCpu =
      cpuBefore === undefined || cpuAfter === undefined
        ? undefined
        : cpuAfter - cpuBefore;
    return { seconds, inserted, postgresCpu };
  });
}

/**
 * After Nudge's run on `db`: its notifications set aside, the statement writes the
 * same audience's anew for the one match recorded.
 */
export async function measureStatementAfterNudge(
  db: Kysely<DB>,
): Promise<StatementRun> {
  const matches = await db
    .selectFrom("rule_matches")
    .select("match_id")
    .execute();
  const [match] = matches;
  if (match === undefined || matches.length !== 1)
    throw new Error(`expected one rule match, found ${String(matches.length)}`);
  await setAsideNudgeRows(db);
  await settle(db);
  return measureStatement(db, match.match_id);
}
