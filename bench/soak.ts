/**
 * Soak test: Nudge's real process on a fresh PostgreSQL database, under mixed Segment
 * traffic at a fixed rate for minutes, with a sale fanning out to its savers through
 * the fake APNs and FCM every few seconds. Samples every 10 s, then checks that every
 * acknowledged call is stored once and every push sent was received. Prints the
 * figures and rewrites the Soak section of BENCHMARKS.md.
 *
 *   npm run bench:soak            (BENCH_SECONDS=60 npm run bench:soak for a quick look)
 *
 * BENCH_RATE: calls/s (default 1,500); BENCH_SALE_SECONDS: seconds between sales (10);
 * BENCH_SAVERS: seeded savers (20,000); BENCH_USERS: the app's users (10,000).
 * BENCH_NUDGE_NODE_OPTIONS passes Node flags to Nudge's process; such a run, like one
 * that was interrupted or in which Nudge died, leaves BENCHMARKS.md alone.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openDatabase } from "../src/db/database.ts";
import { migrateToLatest } from "../src/db/migrator.ts";
import { startChildServer, type ChildServer } from "./child-server.ts";
import { startFakes } from "./fanout-fakes-client.ts";
import { nudgeEnvironment } from "./fanout-nudge-run.ts";
import { writeFiles, type RunContext } from "./fanout-run-support.ts";
import { SHARED_SECRET, WRITE_KEY } from "./ingest-traffic.ts";
import { startStealMeter, waitForQuietMachine } from "./machine-load.ts";
import { checkDeliveries, waitForDrain } from "./soak-checks.ts";
import { checkStoredOnce } from "./soak-ledger.ts";
import { runSoakLoad } from "./soak-load.ts";
import { seedSavers, soakRules } from "./soak-population.ts";
import {
  dataIntact,
  formatSoakReport,
  type NudgeLog,
  type SoakRun,
  type SoakSettings,
} from "./soak-report.ts";
import {
  buildNudge,
  createScratchDatabase,
  describeCommand,
  describeMachine,
  envNumber,
  nudgeNodeOptions,
  publishReport,
  type ScratchDatabase,
  abortOnInterrupt,
} from "./support.ts";

const SETTING_KEYS = [
  "BENCH_SECONDS",
  "BENCH_RATE",
  "BENCH_SALE_SECONDS",
  "BENCH_SAVERS",
  "BENCH_USERS",
] as const;
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Time Nudge gets after the load to plan and send what is due; a stuck one fails the check. */
const DRAIN_TIMEOUT_MS = 120_000;
/** Nudge's log lines kept for the report. */
const LOG_LINES_KEPT = 5;

function readSettings(): SoakSettings {
  return {
    databaseUrl:
      process.env.BENCH_DATABASE_URL ??
      "postgres://postgres@127.0.0.1:5432/postgres",
    seconds: envNumber("BENCH_SECONDS", 600),
    ratePerSecond: envNumber("BENCH_RATE", 1500),
    saleSeconds: envNumber("BENCH_SALE_SECONDS", 10),
    savers: Math.round(envNumber("BENCH_SAVERS", 20_000)),
    users: Math.round(envNumber("BENCH_USERS", 10_000)),
  };
}

/** Migrates the scratch database and seeds the savers; returns the saved items seeded. */
async function prepareDatabase(
  database: ScratchDatabase,
  savers: number,
): Promise<number> {
  const db = await openDatabase({ url: database.url, poolSize: 2 });
  try {
    await migrateToLatest(db);
    const { savedItems } = await seedSavers(db, savers);
    return savedItems;
  } finally {
    await db.destroy();
  }
}

function startNudge(
  context: RunContext,
  database: ScratchDatabase,
  log: NudgeLog,
): Promise<ChildServer> {
  return startChildServer({
    name: "nudge",
    script: context.nudge.entry,
    nodeFlags: context.nudge.nodeFlags,
    cwd: context.repoRoot,
    env: {
      ...nudgeEnvironment(context, database.url),
      SEGMENT_SHARED_SECRET: SHARED_SECRET,
      SEGMENT_WRITE_KEYS: WRITE_KEY,
    },
    startTimeoutMs: 60_000,
    onOutput: (line) => {
      log.lines++;
      if (log.first.length < LOG_LINES_KEPT) log.first.push(line);
    },
  });
}

/** One soak on a database of its own: seed, start Nudge, load, drain, check. */
async function soak(
  context: RunContext,
  settings: SoakSettings,
): Promise<Omit<SoakRun, "machine" | "date" | "command"> & { died: boolean }> {
  const database = await createScratchDatabase(
    settings.databaseUrl,
    "nudge_soak",
  );
  try {
    console.log(`seeding ${settings.savers.toLocaleString("en-US")} savers…`);
    const seeding = performance.now();
    const savedItems = await prepareDatabase(database, settings.savers);
    console.log(
      `seeded ${savedItems.toLocaleString("en-US")} saved items in ${((performance.now() - seeding) / 1000).toFixed(1)} s`,
    );
    const nudgeLog: NudgeLog = { lines: 0, beforeLoad: 0, first: [] };
    const nudge = await startNudge(context, database, nudgeLog);
    try {
      const busy = await waitForQuietMachine();
      if (busy !== undefined && busy > 0.25)
        console.log(
          `the machine is busy (${busy.toFixed(2)} cores in the last second): starting anyway`,
        );
      console.log(`soaking for ${String(settings.seconds)} s…`);
      nudgeLog.beforeLoad = nudgeLog.lines;
      const load = await runSoakLoad(nudge, context, settings, database.name);
      console.log("waiting for Nudge to send what is due…");
      const drain = await waitForDrain(database.url, DRAIN_TIMEOUT_MS);
      const deliveries = await checkDeliveries(
        database.url,
        context.fakes,
        drain,
      );
      await nudge.stop();
      console.log("looking up every acknowledged call…");
      const stored = await checkStoredOnce(database.url, load.ledger);
      return {
        settings,
        ...load.figures,
        nudgeLog,
        savedItems,
        drain,
        deliveries,
        stored,
        died: load.died,
      };
    } finally {
      await nudge.stop();
    }
  } finally {
    await database.drop();
  }
}

async function main(): Promise<void> {
  const settings = readSettings();
  // Ctrl-C stops the load early but still stops the children and drops the database;
  // a second one exits at once, and the exit handlers kill the children.
  const interrupted = abortOnInterrupt();
  const nudge = buildNudge();
  const machine = await describeMachine(settings.databaseUrl);
  const stolen = await startStealMeter();
  const dir = await mkdtemp(join(tmpdir(), "nudge-soak-"));
  const fakes = await startFakes(REPO_ROOT);
  let run;
  try {
    const context: RunContext = {
      repoRoot: REPO_ROOT,
      nudge,
      serverUrl: settings.databaseUrl,
      fakes,
      files: await writeFiles(dir, fakes, await soakRules()),
      nudgeNodeOptions: nudgeNodeOptions(),
      signal: interrupted,
    };
    run = await soak(context, settings);
  } finally {
    await fakes.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const report = formatSoakReport({
    ...run,
    machine: { ...machine, stolen: await stolen() },
    date: new Date(),
    command: describeCommand("bench:soak", SETTING_KEYS),
  });
  // Lost or doubled data, or a dead Nudge, fails the command: not just a figure.
  if (!dataIntact(run) || run.died) process.exitCode = 1;
  const why = interrupted.aborted
    ? "interrupted"
    : run.died
      ? "Nudge's process died during the soak"
      : nudgeNodeOptions() !== undefined
        ? "BENCH_NUDGE_NODE_OPTIONS is set"
        : undefined;
  if (why !== undefined) {
    console.log(`\n${report.text}\n\n${why}: BENCHMARKS.md left as it was`);
    return;
  }
  await publishReport("soak", "Soak", report);
}

await main();
