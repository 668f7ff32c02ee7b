/**
 * The Nudge side of the fan-out benchmark, in a process of its own so that its peak
 * memory is its own: runs the real planner until the pending match is expanded, then
 * prints its figures as one JSON line on stdout (logs go to stderr). Started by
 * bench/fanout-plan.ts with BENCH_FANOUT_CHILD = {databaseUrl, serverUrl, databaseName}.
 */
import { pino } from "pino";
import { openDatabase } from "../src/db/database.ts";
import { createLogger } from "../src/logger.ts";
import { createPlanner } from "../src/planning/planner.worker.ts";
import { loadRuleBook } from "../src/rules/rule-book.ts";
import { fixedRuleStore } from "../src/rules/rule-store.ts";
import { startCpuMeter, type CpuUsage } from "./cpu-usage.ts";
import { BENCH_NOW, EXAMPLE_RULES } from "./fanout-audience.ts";

/** What the child reports: wall time of the drain, CPU, and memory in bytes. */
export type PlannerRun = {
  seconds: number;
  cpu: CpuUsage | undefined;
  rssBeforeBytes: number;
  maxRssBytes: number;
  /** The heap still reachable once planning is done, after a full collection. */
  liveHeapAfterBytes: number;
};

type ChildSettings = {
  databaseUrl: string;
  serverUrl: string;
  databaseName: string;
};

async function main(): Promise<void> {
  const settings = JSON.parse(
    process.env.BENCH_FANOUT_CHILD ?? "",
  ) as ChildSettings;
  const logger = createLogger("warn", pino.destination(2));
  const db = await openDatabase({ url: settings.databaseUrl });
  try {
    const rules = fixedRuleStore(await loadRuleBook(EXAMPLE_RULES));
    const planner = createPlanner({
      db,
      logger,
      clock: () => BENCH_NOW,
      rules,
    });
    const meter = await startCpuMeter({
      serverPid: process.pid,
      serverUrl: settings.serverUrl,
      databaseName: settings.databaseName,
    });
    const rssBeforeBytes = process.memoryUsage.rss();
    const started = performance.now();
    await planner.drain();
    const seconds = (performance.now() - started) / 1000;
    // Read while the pool's backends are still connected: /proc forgets them after.
    const cpu = await meter.read();
    // resourceUsage reports kilobytes.
    const maxRssBytes = process.resourceUsage().maxRSS * 1024;
    globalThis.gc?.();
    const run: PlannerRun = {
      seconds,
      cpu,
      rssBeforeBytes,
      maxRssBytes,
      liveHeapAfterBytes: process.memoryUsage().heapUsed,
    };
    process.stdout.write(`${JSON.stringify(run)}\n`);
  } finally {
    await db.destroy();
  }
}

await main();
