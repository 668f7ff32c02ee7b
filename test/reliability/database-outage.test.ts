import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pingCalls, pingRules } from "../delivery/delivery-fixture.ts";
import { startFakeFcm, type FakeFcm } from "../support/fake-fcm.ts";
import {
  listeningPort,
  startNudge,
  waitFor,
  type NudgeProcess,
} from "../support/nudge-process.ts";
import {
  createPrivatePostgres,
  runPrivatePostgresTests,
  type PrivatePostgres,
} from "../support/private-postgres.ts";
import { startSegmentSender } from "../support/segment-sender.ts";
import { testCertificates } from "../support/test-ca.ts";
import { fcmToken, uniqueId } from "../support/test-database.ts";

/*
 * A whole Nudge process on a PostgreSQL cluster of this file's own, which the tests
 * stop and start as a restart or failover would, and whose connections they kill.
 */
const BATCH_SIZE = 100;

describe.runIf(runPrivatePostgresTests)(
  "a database outage (a PostgreSQL cluster of the test's own)",
  () => {
    let dir: string;
    let postgres: PrivatePostgres;
    let fcm: FakeFcm;
    let nudge: NudgeProcess;
    let origin: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "nudge-outage-"));
      postgres = await createPrivatePostgres();
      fcm = await startFakeFcm();
      await writeFile(join(dir, "ca.pem"), testCertificates().ca);
      await writeFile(join(dir, "rules.json"), JSON.stringify(pingRules));
      nudge = startNudge({
        DATABASE_URL: postgres.url,
        HOST: "127.0.0.1",
        PORT: "0",
        LOG_LEVEL: "info",
        RULES_FILE: join(dir, "rules.json"),
        NODE_EXTRA_CA_CERTS: join(dir, "ca.pem"),
        FCM_PROJECT_ID: fcm.projectId,
        FCM_ACCESS_TOKEN: fcm.accessToken,
        FCM_BASE_URL: fcm.origin,
        DELIVERY_BATCH_SIZE: String(BATCH_SIZE),
        DELIVERY_LEASE_SECONDS: "5",
        // Slow enough that a fan-out is still under way when the database stops.
        FCM_RATE_PER_SEC: "500",
      });
      origin = `http://127.0.0.1:${String(await listeningPort(nudge))}`;
    });

    afterAll(async () => {
      nudge.child.kill("SIGKILL");
      await nudge.exited;
      await fcm.close();
      postgres.destroy();
      await rm(dir, { recursive: true, force: true });
    });

    const query = async <T>(text: string, values: unknown[] = []) => {
      const client = new pg.Client({ connectionString: postgres.url });
      await client.connect();
      try {
        return (await client.query(text, values)).rows as T[];
      } finally {
        await client.end();
      }
    };
    const probe = (path: string) =>
      fetch(`${origin}${path}`).then(async (response) => {
        await response.arrayBuffer();
        return response;
      });
    const storedOf = async (messageIds: Set<string>) => {
      const [row] = await query<{ stored: number }>(
        "select count(*)::int as stored from events where message_id = any($1)",
        [[...messageIds]],
      );
      return row?.stored ?? 0;
    };
    const stillRunning = () => nudge.child.exitCode === null;

    it("when PostgreSQL restarts under ingest, then Nudge stays up, answers 503 with Retry-After meanwhile, resumes within 10 s, and stores every acknowledged event once", async () => {
      const sender = startSegmentSender({
        url: () => origin,
        connections: 4,
        batchSize: 20,
        users: 500,
      });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      postgres.stop();
      await waitFor(async () => (await probe("/health")).status === 503, 5_000);
      const down = await fetch(`${origin}/v1/segment`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          type: "track",
          event: "Viewed",
          userId: "u",
          messageId: uniqueId("m"),
        }),
      });
      expect(down.status).toBe(503);
      expect(down.headers.get("retry-after")).toBe("5");
      expect((await probe("/readyz")).status).toBe(503);
      expect((await probe("/livez")).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 2_000));

      postgres.start();
      const back = Date.now();
      await waitFor(
        async () => (await probe("/readyz")).status === 200,
        10_000,
      );
      const readyAfterMs = Date.now() - back;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      sender.stop();
      const report = await sender.done;

      expect(stillRunning()).toBe(true);
      expect(readyAfterMs).toBeLessThan(10_000);
      // Every refusal was a 503 asking for a retry; nothing else went wrong.
      const codes = [...report.statuses.keys()].sort();
      expect(codes.filter((code) => code !== 200 && code !== 503)).toEqual([]);
      expect(report.statuses.get(503) ?? 0).toBeGreaterThan(0);
      expect(report.withoutRetryAfter).toBe(0);
      expect(await storedOf(report.acknowledged)).toBe(
        report.acknowledged.size,
      );
      console.info(
        `restart under ingest: ready ${String(readyAfterMs)} ms after PostgreSQL, ` +
          `${String(report.acknowledged.size)} events stored, 0 lost, ` +
          `answers ${JSON.stringify(Object.fromEntries(report.statuses))}`,
      );
    });

    it("when PostgreSQL restarts mid-fan-out, then every push is sent and repeats stay within one claim batch", async () => {
      const users = Array.from({ length: 2_000 }, () => ({
        userId: uniqueId("user"),
        platform: "android" as const,
        token: fcmToken(),
      }));
      for (let i = 0; i < users.length; i += 250) {
        const response = await fetch(`${origin}/v1/segment`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(users.slice(i, i + 250).flatMap(pingCalls)),
        });
        expect(response.status).toBe(200);
      }
      const tokens = new Set(users.map((u) => u.token));
      const received = () =>
        fcm.received.filter((m) => tokens.has(m.message.token as string));
      await waitFor(() => received().length >= 300, 30_000);
      postgres.stop();
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      postgres.start();
      const back = Date.now();

      await waitFor(
        () =>
          new Set(received().map((m) => m.message.token)).size === tokens.size,
        60_000,
      );
      const drainedAfterMs = Date.now() - back;
      await waitFor(async () => {
        const [row] = await query<{ unsent: number }>(
          "select count(*)::int as unsent from notifications where user_id = any($1) and status <> 'sent'",
          [users.map((u) => u.userId)],
        );
        return row?.unsent === 0;
      }, 30_000);
      const repeats = received().length - tokens.size;
      expect(stillRunning()).toBe(true);
      expect(repeats).toBeLessThanOrEqual(BATCH_SIZE);
      console.info(
        `restart mid-fan-out: ${String(tokens.size)} pushes, 0 lost, ` +
          `${String(repeats)} repeated (bound ${String(BATCH_SIZE)}), ` +
          `drained ${String(drainedAfterMs)} ms after PostgreSQL returned`,
      );
    });

    it("when Nudge's connections are terminated, idle or busy, then it stays up and every acknowledged event is stored", async () => {
      const sender = startSegmentSender({
        url: () => origin,
        connections: 4,
        batchSize: 20,
        users: 500,
      });
      for (let round = 0; round < 5; round++) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        await query(
          "select pg_terminate_backend(pid) from pg_stat_activity where pid <> pg_backend_pid() and backend_type = 'client backend'",
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      sender.stop();
      const report = await sender.done;
      expect(stillRunning()).toBe(true);
      const codes = [...report.statuses.keys()];
      expect(codes.filter((code) => code !== 200 && code !== 503)).toEqual([]);
      expect(await storedOf(report.acknowledged)).toBe(
        report.acknowledged.size,
      );
      expect((await probe("/readyz")).status).toBe(200);
      // The pool's losses were logged, never thrown.
      expect(nudge.output()).toContain("database connection lost");
      expect(nudge.output()).not.toContain("Unhandled");
    });

    it("when Nudge starts while PostgreSQL is down, then it waits for it and serves once it is up", async () => {
      postgres.stop();
      const late = startNudge({
        DATABASE_URL: postgres.url,
        HOST: "127.0.0.1",
        PORT: "0",
        LOG_LEVEL: "info",
        RULES_FILE: join(dir, "rules.json"),
      });
      try {
        await waitFor(
          () => late.output().includes("waiting for the database"),
          10_000,
        );
        expect(late.child.exitCode).toBeNull();
        postgres.start();
        const port = await listeningPort(late, 15_000);
        const health = await fetch(`http://127.0.0.1:${String(port)}/health`);
        expect(health.status).toBe(200);
      } finally {
        late.child.kill("SIGKILL");
        await late.exited;
      }
    });
  },
);
