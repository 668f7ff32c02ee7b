/**
 * Broadcast benchmark: the same N users reached two ways by Nudge's real process, in
 * rounds with the order alternating: the sale of a product they all saved, posted as
 * Segment's webhook destination posts it (the collection fan-out of bench:fanout), and
 * a broadcast to every profile triggered through the admin API (`POST
 * /v1/rules/:id/trigger`, a trait audience, no spread). Both are timed until the fake
 * APNs and FCM accepted every push. Prints a table and rewrites the Broadcast section
 * of BENCHMARKS.md.
 *
 *   npm run bench:fanout-broadcast     (BENCH_USERS=10000 … for a quick look)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_USERS } from "./fanout-delivery-report.ts";
import { accepted, micros, mib, perPush } from "./fanout-delivery-tables.ts";
import { startFakes } from "./fanout-fakes-client.ts";
import { measureNudge, type NudgeRun } from "./fanout-nudge-run.ts";
import { benchRules, writeFiles } from "./fanout-run-support.ts";
import { startStealMeter } from "./machine-load.ts";
import {
  abortOnInterrupt,
  benchRounds,
  buildNudge,
  describeCommand,
  describeMachine,
  envNumber,
  formatNumber,
  markdownTable,
  middleRound,
  nudgeNodeOptions,
  publishReport,
  runLines,
  textTable,
} from "./support.ts";

const SETTING_KEYS = ["BENCH_USERS", "BENCH_ROUNDS"] as const;
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The broadcast's pushes/s as a share of the collection fan-out's: "within 10%". */
const GOAL_SHARE = 0.9;

type Round = { sale: NudgeRun; broadcast: NudgeRun };

const pushesPerSecond = (run: NudgeRun) => accepted(run.fakes) / run.seconds;
const share = (round: Round) =>
  pushesPerSecond(round.broadcast) / pushesPerSecond(round.sale);

function table(round: Round, users: number): string[][] {
  const row = (label: string, figure: (run: NudgeRun) => string) => [
    label,
    figure(round.sale),
    figure(round.broadcast),
  ];
  const cpuPerPush = (run: NudgeRun) =>
    micros(
      perPush((run.cpu?.server ?? NaN) + (run.cpu?.postgres ?? NaN), users),
    );
  return [
    ["", "sale (collection)", "broadcast (API trigger)"],
    row("pushes accepted", (run) => formatNumber(accepted(run.fakes))),
    row("time to the last push accepted, s", (run) =>
      formatNumber(run.seconds, 2),
    ),
    row("pushes/s", (run) => formatNumber(pushesPerSecond(run))),
    row("CPU per push, Nudge + PostgreSQL, µs", cpuPerPush),
    row("peak RSS, MiB", (run) => mib(run.peakRssBytes)),
  ];
}

function formatReport(
  users: number,
  rounds: readonly Round[],
  run: Parameters<typeof runLines>[0],
) {
  const middle = middleRound(rounds, share, "higher");
  const shares = rounds.map((r) => `${formatNumber(share(r), 2)}×`);
  const met = Math.min(...rounds.map(share)) >= GOAL_SHARE;
  const goal = `Goal: the broadcast's pushes/s ≥ ${formatNumber(GOAL_SHARE * 100)}% of the collection fan-out's in every round. Result: ${shares.join(", ")}: ${met ? "met" : "NOT met"}.`;
  const intro = `${formatNumber(users)} users, each with one device, reached by Nudge two ways in each of ${formatNumber(rounds.length)} rounds, one after the other with the order alternating, each on a fresh database: the sale of a product all of them saved (posted to \`/v1/segment\` as Segment sends it, the fan-out of \`bench:fanout\`), and a broadcast to every profile (\`"trigger": "manual"\`, \`"audience": {"where": …}\` that every profile matches) started with \`POST /v1/rules/:id/trigger\`. Both are timed from the request to the last push the fakes accepted. The table shows the round in the middle by the broadcast's share of the sale's pushes/s.`;
  const rows = table(middle, users);
  return {
    text: [
      intro,
      textTable(rows),
      `Broadcast / sale pushes/s, round by round: ${shares.join(", ")}`,
      goal,
    ].join("\n\n"),
    markdown: [
      "## Fan-out: a broadcast triggered through the API",
      intro,
      runLines(run).join("\n"),
      markdownTable(rows, ["left", "right", "right"]),
      `Broadcast / sale pushes/s, round by round: ${shares.join(", ")}.`,
      goal,
    ].join("\n\n"),
  };
}

async function main(): Promise<void> {
  const serverUrl =
    process.env.BENCH_DATABASE_URL ??
    "postgres://postgres@127.0.0.1:5432/postgres";
  const users = Math.round(envNumber("BENCH_USERS", DEFAULT_USERS));
  const interrupted = abortOnInterrupt();
  const machine = await describeMachine(serverUrl);
  const stolen = await startStealMeter();
  const dir = await mkdtemp(join(tmpdir(), "nudge-broadcast-"));
  const fakes = await startFakes(REPO_ROOT);
  const rounds: Round[] = [];
  try {
    const context = {
      repoRoot: REPO_ROOT,
      nudge: buildNudge(),
      serverUrl,
      fakes,
      files: await writeFiles(dir, fakes, await benchRules()),
      nudgeNodeOptions: nudgeNodeOptions(),
      signal: interrupted,
    };
    const count = benchRounds();
    for (let round = 1; round <= count; round++) {
      const label = `${formatNumber(users)} users, round ${String(round)} of ${String(count)}`;
      const measure = (start: "sale" | "broadcast") => {
        console.log(`${label}: ${start}…`);
        return measureNudge(context, users, start);
      };
      let sale = round % 2 === 1 ? await measure("sale") : undefined;
      const broadcast = await measure("broadcast");
      sale ??= await measure("sale");
      rounds.push({ sale, broadcast });
    }
  } catch (error) {
    if (!interrupted.aborted) throw error;
    console.log("interrupted: BENCHMARKS.md left as it was");
    return;
  } finally {
    await fakes.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const report = formatReport(users, rounds, {
    date: new Date(),
    command: describeCommand("bench:fanout-broadcast", SETTING_KEYS),
    machine: { ...machine, stolen: await stolen() },
  });
  if (nudgeNodeOptions() !== undefined || users !== DEFAULT_USERS) {
    console.log(`\n${report.text}\n\nBENCHMARKS.md left as it was`);
    return;
  }
  await publishReport("fanout-broadcast", "Broadcast", report);
}

await main();
