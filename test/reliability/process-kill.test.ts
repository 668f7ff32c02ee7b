import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/database.ts";
import {
  listeningPort,
  startNudge,
  type NudgeProcess,
} from "../support/nudge-process.ts";
import { startSegmentSender } from "../support/segment-sender.ts";
import {
  createTestDatabase,
  type TestDatabase,
} from "../support/test-database.ts";

/*
 * A Nudge process killed with SIGKILL in the middle of ingest, then started again:
 * on the database the suite runs on (a data directory of PGlite's, or a PostgreSQL
 * database of this file's). What was acknowledged must be there after the restart,
 * and what was not is sent again by the client, as Segment does, and stored once.
 * (A kill mid-fan-out is in test/delivery/processes.test.ts.)
 */
describe("a Nudge process killed mid-ingest", () => {
  let dir: string;
  let database: TestDatabase | undefined;
  let env: Record<string, string>;
  const processes: NudgeProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "nudge-kill-"));
    if (process.env.TEST_DATABASE_URL) database = await createTestDatabase();
    env = {
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "info",
      ...(database?.url === undefined
        ? { DATA_DIR: join(dir, "data") }
        : { DATABASE_URL: database.url }),
    };
  });

  afterAll(async () => {
    for (const nudge of processes) nudge.child.kill("SIGKILL");
    await Promise.all(processes.map((p) => p.exited));
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const spawnNudge = async () => {
    const nudge = startNudge(env);
    processes.push(nudge);
    return `http://127.0.0.1:${String(await listeningPort(nudge, 60_000))}`;
  };

  it("when the process is killed and started again, then every acknowledged event is stored once and the rest arrive on retry", async () => {
    let origin = await spawnNudge();
    const sender = startSegmentSender({
      url: () => origin,
      connections: 4,
      batchSize: 20,
      users: 300,
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const victim = processes[0];
    victim?.child.kill("SIGKILL");
    await victim?.exited;
    origin = await spawnNudge();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    sender.stop();
    const report = await sender.done;
    const statuses = [...report.statuses.keys()];
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(report.unanswered).toBeGreaterThan(0);

    // The successor is stopped first: PGlite's directory is one process's at a time.
    const successor = processes[1];
    successor?.child.kill("SIGTERM");
    expect(await successor?.exited).toBe(0);
    const db = await openDatabase(
      database?.url === undefined
        ? { dataDir: join(dir, "data") }
        : { url: database.url },
    );
    try {
      const { rows } = await sql<{ stored: number }>`
        select count(*)::int as stored from events
        where message_id = any(${[...report.acknowledged]})`.execute(db);
      expect(rows[0]?.stored).toBe(report.acknowledged.size);
    } finally {
      await db.destroy();
    }
    console.info(
      `SIGKILL mid-ingest (${database === undefined ? "PGlite" : "PostgreSQL"}): ` +
        `${String(report.acknowledged.size)} acknowledged events stored, 0 lost; ` +
        `${String(report.unanswered)} requests cut by the kill and sent again`,
    );
  });
});
