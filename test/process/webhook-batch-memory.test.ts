import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  listeningPort,
  startNudge,
  type NudgeProcess,
} from "../support/nudge-process.ts";
import {
  actionsWebhookRequest,
  realisticCalls,
  sendWebhook,
} from "../support/segment-webhook-client.ts";
import {
  createTestDatabase,
  uniqueId,
  type TestDatabase,
} from "../support/test-database.ts";

const TOKEN = "webhook-token-0123456789";
const MIB = 1024 * 1024;
/** `npm start`'s flags (README, Memory): the figures are those of Nudge as it runs. */
const NODE_FLAGS = [
  "--max-semi-space-size=32",
  "--heap-growing-percent=50",
  "--initial-old-space-size=100",
];

/**
 * Starts a new peak (VmHWM) from the RSS of now: start-up on a new PGlite database
 * (its initdb) peaks far above what a batch costs, and would hide it.
 */
async function resetPeakRss(pid: number): Promise<void> {
  await writeFile(`/proc/${String(pid)}/clear_refs`, "5");
}

/** Peak RSS of a process since it started or `resetPeakRss` (VmHWM), in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${String(pid)}/status`, "utf8");
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error("no VmHWM in /proc/<pid>/status");
  return Number(kb) * 1024;
}

/*
 * The Actions webhook's largest batch, 4,000 events of about 1.3 KB, posted to Nudge
 * running as its own process (on PGlite, or on PostgreSQL with TEST_DATABASE_URL), to
 * see what it costs: the answer's time and Nudge's peak RSS. The figures are in README.
 */
describe.runIf(process.platform === "linux")(
  "a 4,000-event webhook batch",
  () => {
    let dir: string;
    let database: TestDatabase;
    let nudge: NudgeProcess;
    let port: number;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "nudge-batch-memory-"));
      database = await createTestDatabase();
      nudge = startNudge(
        {
          HOST: "127.0.0.1",
          PORT: "0",
          DATA_DIR: join(dir, "data"),
          DATABASE_URL: database.url ?? "",
          SEGMENT_WEBHOOK_TOKEN: TOKEN,
        },
        [...NODE_FLAGS, new URL("../../src/main.ts", import.meta.url).pathname],
      );
      port = await listeningPort(nudge);
    });

    afterAll(async () => {
      nudge.child.kill("SIGTERM");
      await nudge.exited;
      await database.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("when Segment posts it, then it is stored within Segment's 5 s and Nudge's memory stays bounded", async () => {
      const pid = nudge.child.pid ?? 0;
      const url = `http://127.0.0.1:${String(port)}/v1/segment`;
      const headers = { authorization: `Bearer ${TOKEN}` };
      // One small request first, so that the idle figure includes a warm intake.
      const warm = actionsWebhookRequest(realisticCalls(1, uniqueId("warm")), {
        headers,
      });
      expect((await sendWebhook(url, warm)).status).toBe(200);
      const startup = await peakRss(pid);
      await resetPeakRss(pid);
      const idle = await peakRss(pid);

      const request = actionsWebhookRequest(
        realisticCalls(4_000, uniqueId("batch")),
        { headers },
      );
      const started = performance.now();
      const answer = await sendWebhook(url, request);
      const seconds = (performance.now() - started) / 1000;
      expect(answer.body).toEqual({
        accepted: 4_000,
        duplicates: 0,
        rejected: [],
      });
      const peak = await peakRss(pid);
      console.log(
        `${database.kind}: 4,000 events, ${(request.body.length / MIB).toFixed(1)} MiB, answered in ${seconds.toFixed(2)} s; peak RSS ${(startup / MIB).toFixed(0)} MiB at start-up, ${(idle / MIB).toFixed(0)} MiB idle, ${(peak / MIB).toFixed(0)} MiB during the batch`,
      );
      expect(seconds).toBeLessThan(5);
      // Bounded: a few copies of the body over the idle process, not a runaway.
      expect(peak - idle).toBeLessThan(300 * MIB);
    });
  },
);
