/**
 * Fan-out delivery benchmark: one "product on sale" event posted to Nudge's real process
 * for a product saved by N users with an iPhone or an Android phone each, timed until
 * the fake APNs and FCM (a process of their own) accepted every push; against a bare
 * node:http2 client sending as many pushes to the same fakes in the same run (the
 * machine's limit). At N/10 and N savers. Prints tables and rewrites the Fan-out
 * delivery section of BENCHMARKS.md.
 *
 *   npm run bench:fanout            (BENCH_USERS=10000 npm run bench:fanout for a quick look)
 *
 * BENCH_NUDGE_NODE_OPTIONS passes Node flags to Nudge's process (e.g. "--cpu-prof
 * --cpu-prof-dir=<dir>" to profile it); such a run leaves BENCHMARKS.md alone.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startFakes } from "./fanout-fakes-client.ts";
import {
  formatDeliveryReport,
  type SizeRun,
  DEFAULT_USERS,
  deliveryReportTitle,
} from "./fanout-delivery-report.ts";
import type { SizeRound } from "./fanout-delivery-tables.ts";
import { measureBaseline } from "./fanout-baseline-run.ts";
import { measureNudge } from "./fanout-nudge-run.ts";
import {
  benchRules,
  writeFiles,
  type RunContext,
} from "./fanout-run-support.ts";
import { startStealMeter } from "./machine-load.ts";
import {
  benchRounds,
  buildNudge,
  describeCommand,
  describeMachine,
  envNumber,
  middleRound,
  nudgeNodeOptions,
  publishReport,
  abortOnInterrupt,
} from "./support.ts";

const SETTING_KEYS = ["BENCH_USERS", "BENCH_ROUNDS"] as const;
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The smaller audience is this fraction of the larger. */
const SMALL_FRACTION = 10;
/** Pushes the bare client sends first, unreported, so that neither side meets cold fakes. */
const WARMUP_USERS = 10_000;

/**
 * Measures one audience size in rounds, the bare client and Nudge one after the other
 * with the order alternating, and keeps the middle round by Nudge's share.
 */
async function measureSize(
  context: RunContext,
  users: number,
): Promise<SizeRun> {
  const rounds: SizeRound[] = [];
  const count = benchRounds();
  for (let round = 1; round <= count; round++) {
    const label = `${users.toLocaleString("en-US")} savers, round ${String(round)} of ${String(count)}`;
    const clientRun = () => {
      console.log(`${label}: bare HTTP/2 client…`);
      return measureBaseline(context, users);
    };
    let baseline = round % 2 === 1 ? await clientRun() : undefined;
    console.log(`${label}: Nudge…`);
    const nudge = await measureNudge(context, users);
    baseline ??= await clientRun();
    rounds.push({ nudge, baseline });
  }
  const share = ({ nudge, baseline }: SizeRound) =>
    baseline.seconds / nudge.seconds;
  return {
    users,
    ...middleRound(rounds, share, "higher"),
    shares: rounds.map(share),
  };
}

async function main(): Promise<void> {
  const serverUrl =
    process.env.BENCH_DATABASE_URL ??
    "postgres://postgres@127.0.0.1:5432/postgres";
  const users = Math.round(envNumber("BENCH_USERS", DEFAULT_USERS));
  const sizes = [Math.max(2, Math.round(users / SMALL_FRACTION)), users];
  // Ctrl-C stops the children and drops the databases; a second one exits at once.
  const interrupted = abortOnInterrupt();
  const machine = await describeMachine(serverUrl);
  const stolen = await startStealMeter();
  const dir = await mkdtemp(join(tmpdir(), "nudge-fanout-"));
  const fakes = await startFakes(REPO_ROOT);
  const runs: SizeRun[] = [];
  try {
    const context: RunContext = {
      repoRoot: REPO_ROOT,
      nudge: buildNudge(),
      serverUrl,
      fakes,
      files: await writeFiles(dir, fakes, await benchRules()),
      nudgeNodeOptions: nudgeNodeOptions(),
      signal: interrupted,
    };
    console.log("warming up the fakes…");
    await measureBaseline(context, WARMUP_USERS);
    for (const size of sizes) runs.push(await measureSize(context, size));
  } catch (error) {
    if (!interrupted.aborted) throw error;
    console.log("interrupted: BENCHMARKS.md left as it was");
    return;
  } finally {
    await fakes.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const report = formatDeliveryReport({
    machine: { ...machine, stolen: await stolen() },
    date: new Date(),
    command: describeCommand("bench:fanout", SETTING_KEYS),
    sizes: runs,
  });
  if (nudgeNodeOptions() !== undefined) {
    console.log(
      `\n${report.text}\n\nBENCH_NUDGE_NODE_OPTIONS is set: BENCHMARKS.md left as it was`,
    );
    return;
  }
  // Another audience size than the default has a section of its own, beside it.
  const section =
    users === DEFAULT_USERS ? "fanout" : `fanout-${String(users)}`;
  await publishReport(section, deliveryReportTitle(users), report);
}

await main();
