/**
 * Fan-out planning benchmark: Nudge's planner expanding one rule match into a
 * notification per saver of a product, against ONE hand-written INSERT … SELECT of the
 * same rows, measured in the same run on the same data. Nudge runs in a child process so
 * its peak memory is its own, at two audience sizes to show whether memory stays flat.
 * Prints a table and rewrites the Fan-out planning section of BENCHMARKS.md.
 *
 *   npm run bench:fanout-plan            (BENCH_USERS=10000 npm run bench:fanout-plan for a quick look)
 */
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { openDatabase } from "../src/db/database.ts";
import { migrateToLatest } from "../src/db/migrator.ts";
import { createLogger } from "../src/logger.ts";
import { loadRuleBook } from "../src/rules/rule-book.ts";
import { runChildTask } from "./child-task.ts";
import { measureStatement, settle } from "./baseline-statement.ts";
import {
  countDifferences,
  countOutcomes,
  createAudience,
  EXAMPLE_RULES,
  recordSale,
  setAsideNudgeRows,
} from "./fanout-audience.ts";
import type { PlannerRun } from "./fanout-plan-child.ts";
import { formatFanoutReport, type SizeFigures } from "./fanout-report.ts";
import { startStealMeter } from "./machine-load.ts";
import {
  createScratchDatabase,
  describeCommand,
  describeMachine,
  envNumber,
  publishReport,
  type ScratchDatabase,
  abortOnInterrupt,
} from "./support.ts";

const SETTING_KEYS = ["BENCH_USERS"] as const;
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Far above what 100,000 recipients take; a stuck planner fails the run instead of hanging it. */
const CHILD_TIMEOUT_MS = 5 * 60_000;
/** The smaller audience is this fraction of the larger: memory should not follow it. */
const SMALL_FRACTION = 10;

const logger = createLogger("warn", pino.destination(2));

/** Nudge's planner in a child process, until the pending match is expanded. */
function measureNudge(
  database: ScratchDatabase,
  serverUrl: string,
  signal: AbortSignal,
): Promise<PlannerRun> {
  return runChildTask<PlannerRun>({
    name: "planner",
    script: "bench/fanout-plan-child.ts",
    // Only so that the child can measure its live heap after a full collection.
    nodeFlags: ["--expose-gc"],
    cwd: REPO_ROOT,
    env: {
      BENCH_FANOUT_CHILD: JSON.stringify({
        databaseUrl: database.url,
        serverUrl,
        databaseName: database.name,
      }),
    },
    timeoutMs: CHILD_TIMEOUT_MS,
    signal,
  });
}

/** One audience size on a database of its own: setup, Nudge, then the baseline. */
async function measureSize(
  serverUrl: string,
  users: number,
  signal: AbortSignal,
): Promise<SizeFigures> {
  const step = (name: string) => {
    signal.throwIfAborted();
    console.log(`${users.toLocaleString("en-US")} savers: ${name}…`);
  };
  const database = await createScratchDatabase(serverUrl, "nudge_fanout");
  try {
    const db = await openDatabase({ url: database.url, poolSize: 2 });
    try {
      step("setting up");
      await migrateToLatest(db);
      await createAudience(db, users);
      const matchId = await recordSale(
        db,
        await loadRuleBook(EXAMPLE_RULES),
        logger,
      );
      await settle(db);
      step("Nudge");
      const nudge = await measureNudge(database, serverUrl, signal);
      const nudgeOutcomes = await countOutcomes(db);
      await setAsideNudgeRows(db);
      await settle(db);
      step("baseline");
      const baseline = await measureStatement(db, matchId);
      return {
        users,
        nudge,
        baseline,
        nudgeOutcomes,
        baselineOutcomes: await countOutcomes(db),
        differences: await countDifferences(db),
      };
    } finally {
      await db.destroy();
    }
  } finally {
    await database.drop();
  }
}

async function main(): Promise<void> {
  const serverUrl =
    process.env.BENCH_DATABASE_URL ??
    "postgres://postgres@127.0.0.1:5432/postgres";
  const users = Math.round(envNumber("BENCH_USERS", 100_000));
  const sizes = [Math.max(1, Math.round(users / SMALL_FRACTION)), users];
  // Ctrl-C kills the planner and drops the databases; a second one exits at once.
  const interrupted = abortOnInterrupt();
  const machine = await describeMachine(serverUrl);
  const stolen = await startStealMeter();
  const figures: SizeFigures[] = [];
  try {
    for (const size of sizes)
      figures.push(await measureSize(serverUrl, size, interrupted));
  } catch (error) {
    if (!interrupted.aborted) throw error;
    console.log("interrupted: BENCHMARKS.md left as it was");
    return;
  }
  const report = formatFanoutReport({
    machine: { ...machine, stolen: await stolen() },
    date: new Date(),
    command: describeCommand("bench:fanout-plan", SETTING_KEYS),
    sizes: figures,
  });
  await publishReport("fanout-plan", "Fan-out planning", report);
}

await main();
