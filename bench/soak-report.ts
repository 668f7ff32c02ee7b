/** The soak's report: for the terminal and for its section of BENCHMARKS.md. */
import { imageCommandLine } from "../scripts/start-command.ts";
import type { DeliveryCheck, Drain } from "./soak-checks.ts";
import { soakFigures, type SoakFigures } from "./soak-figures.ts";
import type { StoredCheck } from "./soak-ledger.ts";
import { INTERVAL_SECONDS, type Interval } from "./soak-sampler.ts";
import { MIX } from "./soak-traffic.ts";
import {
  formatNumber,
  markdownTable,
  runLines,
  textTable,
  type LatencySummary,
  type Machine,
} from "./support.ts";

/** What Nudge printed: at LOG_LEVEL=warn, its warnings and errors. */
export type NudgeLog = {
  lines: number;
  /** Lines printed before the load began (start-up). */
  beforeLoad: number;
  first: string[];
};

export type SoakSettings = {
  databaseUrl: string;
  seconds: number;
  ratePerSecond: number;
  saleSeconds: number;
  savers: number;
  users: number;
};

/** Everything a soak measured and checked. */
export type SoakRun = {
  settings: SoakSettings;
  machine: Machine;
  date: Date;
  command: string;
  intervals: readonly Interval[];
  latency: LatencySummary;
  errorMessages: ReadonlyMap<string, number>;
  /** Lines Nudge printed (at LOG_LEVEL=warn: warnings and errors), and the first few. */
  nudgeLog: NudgeLog;
  savedItems: number;
  drain: Drain;
  deliveries: DeliveryCheck;
  stored: StoredCheck;
};

/** RSS growth over the second half that still counts as flat. */
const RSS_SLOPE_LIMIT_MIB_PER_MINUTE = 1;
/** The last minute's events/s, as a share of the first minute's, that counts as held. */
const HELD_SHARE = 0.95;

const MiB = 2 ** 20;
const n = (value: number | undefined, digits = 0) =>
  value === undefined ? "n/a" : formatNumber(value, digits);
const ratio = (a: number, b: number) =>
  b > 0 && Number.isFinite(a) ? `${formatNumber(a / b, 2)}×` : "n/a";

function intervalRows(intervals: readonly Interval[]): string[][] {
  return [
    [
      "t, s",
      "events/s",
      "requests",
      "p50, ms",
      "p99, ms",
      "errors",
      "RSS, MiB",
      "heap, MiB",
      "loop lag, ms",
      "pushes/s",
      "due",
      "to plan",
      "Nudge CPU",
      "PG CPU",
      "other CPU",
    ],
    ...intervals.map((i) => [
      n(i.at),
      n(i.accepted / i.seconds),
      n(i.requests),
      n(i.latency.p50, 1),
      n(i.latency.p99, 1),
      n(i.errors),
      n((i.rssBytes ?? Number.NaN) / MiB, 1),
      n((i.heapUsedBytes ?? Number.NaN) / MiB, 1),
      n(i.loopLagMaxMs, 1),
      n(i.pushes === undefined ? undefined : i.pushes / i.seconds),
      n(i.deliveryDue),
      n(i.pendingMatches),
      n(i.cpu.nudge, 2),
      n(i.cpu.postgres, 2),
      n(i.cpu.other, 2),
    ]),
  ];
}

function baselineRows(figures: SoakFigures): string[][] {
  const { eventsPerSecond: rate, p99, rssMiB: rss } = figures;
  return [
    ["", "first minute (baseline)", "last minute", "last / first"],
    [
      "events/s accepted",
      n(rate.firstMinute),
      n(rate.lastMinute),
      ratio(rate.lastMinute, rate.firstMinute),
    ],
    [
      "worst 10-s p99, ms",
      n(p99.firstMinute, 1),
      n(p99.lastMinute, 1),
      ratio(p99.lastMinute, p99.firstMinute),
    ],
    [
      "Nudge's RSS at its end, MiB",
      n(rss.firstMinute, 1),
      n(rss.last, 1),
      ratio(rss.last, rss.firstMinute),
    ],
  ];
}

function checkRows(run: SoakRun, figures: SoakFigures): string[][] {
  const { eventsPerSecond: rate, rssMiB: rss } = figures;
  const { stored, deliveries } = run;
  const check = (name: string, value: string, held: boolean) => [
    name,
    value,
    held ? "yes" : "NO",
  ];
  return [
    ["Check", "Result", "Held"],
    check(
      `events/s of the last minute ≥ ${String(HELD_SHARE * 100)}% of the first minute's`,
      `${formatNumber((100 * rate.lastMinute) / rate.firstMinute, 1)}%`,
      rate.lastMinute >= HELD_SHARE * rate.firstMinute,
    ),
    check("no failed request", n(figures.errors), figures.errors === 0),
    check(
      `RSS flat over the second half (≤ ${String(RSS_SLOPE_LIMIT_MIB_PER_MINUTE)} MiB/min)`,
      `${formatNumber(rss.slopePerMinute, 2)} MiB/min`,
      rss.slopePerMinute <= RSS_SLOPE_LIMIT_MIB_PER_MINUTE,
    ),
    check(
      "every acknowledged call stored exactly once",
      `${n(stored.stored)} of ${n(stored.acknowledged)}; ${n(stored.missing)} missing, ${n(stored.duplicates)} twice`,
      stored.missing === 0 && stored.duplicates === 0,
    ),
    check(
      "every push Nudge sent reached the fakes, none left to send",
      `${n(deliveries.accepted)} accepted, ${n(deliveries.sentDeliveries)} sent, ${n(run.drain.openDue)} due`,
      deliveries.complete,
    ),
  ];
}

/** Whether the run lost or doubled data: what should fail the command, not just a figure. */
export function dataIntact(
  run: Pick<SoakRun, "stored" | "deliveries">,
): boolean {
  return (
    run.stored.missing === 0 &&
    run.stored.duplicates === 0 &&
    run.deliveries.complete
  );
}

function figureLines(run: SoakRun, figures: SoakFigures): string[] {
  const { eventsPerSecond: rate, rssMiB: rss } = figures;
  const { deliveries: d, stored, latency, drain, nudgeLog: log } = run;
  const lineCount = (count: number) =>
    `${n(count)} line${count === 1 ? "" : "s"}`;
  const statuses = (rows: readonly { status: string; count: number }[]) =>
    rows.map((row) => `${row.status} ${n(row.count)}`).join(", ") || "none";
  const errors = [...run.errorMessages].map(
    ([message, count]) => `  - ${n(count)}× ${message}`,
  );
  return [
    `- events/s accepted: ${n(rate.first)} in the first interval, ${n(rate.last)} in the last, ${n(rate.min)} at the lowest (offered: ${n(run.settings.ratePerSecond)} and the sales)`,
    `- latency over the whole soak: p50 ${n(latency.p50, 1)} ms, p99 ${n(latency.p99, 1)} ms, max ${n(latency.max, 1)} ms, over ${n(latency.count)} requests; ${n(figures.errors)} errors`,
    ...errors,
    `- Nudge's RSS: ${n(rss.first, 1)} MiB at the first sample, ${n(rss.last, 1)} MiB at the last, ${n(rss.max, 1)} MiB at most; ${formatNumber(rss.slopePerMinute, 2)} MiB per minute over the second half`,
    `- sales: ${n(d.sales.count)}, with ${n(d.sales.min)} / ${n(d.sales.median)} / ${n(d.sales.max)} notifications (smallest / median / largest); sale notifications: ${statuses(d.saleNotifications)}`,
    `- pushes: ${n(d.fakes.apns.accepted)} + ${n(d.fakes.fcm.accepted)} accepted by the fake APNs + FCM, ${n(d.sentDeliveries)} deliveries recorded as sent (deliveries: ${statuses(d.deliveries)}); drained ${formatNumber(drain.seconds, 1)} s after the load${drain.drained ? "" : `, NOT drained: ${n(drain.pendingMatches)} matches to plan, ${n(drain.openDue)} due`}`,
    `- calls: ${n(stored.acknowledged)} acknowledged, ${n(stored.stored)} of them stored once, ${n(stored.missing)} missing, ${n(stored.duplicates)} stored twice; ${n(stored.unacknowledgedRows)} rows stored for calls not acknowledged`,
    `- Nudge's log (\`LOG_LEVEL=warn\`): ${lineCount(log.beforeLoad)} at start-up, ${lineCount(log.lines - log.beforeLoad)} during the load and after${log.lines > 0 ? "; the first:" : ""}`,
    ...log.first.map((line) => `  - \`${line.slice(0, 300)}\``),
  ];
}

function method(run: SoakRun): string {
  const s = run.settings;
  const cycle = MIX.batchCalls + MIX.webhookBatchCalls + MIX.singles;
  const share = (calls: number) => `${formatNumber((100 * calls) / cycle)}%`;
  return `Nudge runs for a long while under a steady, moderate load, with fan-outs all
along, to show what changes with time: its throughput, latency, memory and backlogs,
every ${String(INTERVAL_SECONDS)} s. It runs as its own process, as the Docker image runs it (\`${imageCommandLine()}\`,
\`NODE_ENV=production\`, \`LOG_LEVEL=warn\`, the default delivery settings), on a fresh
PostgreSQL database, its APNs and FCM providers pointed at the test suite's fakes in a
process of their own (as in Fan-out delivery). Rules: \`examples/rules.json\` without
quiet hours and holdout, with a frequency cap of 50 a day instead of 3, so that the
sales keep fanning out for the whole soak.

- Seeded before Nudge starts, in SQL: ${n(s.savers)} savers, each with a profile and one
  active device (APNs or FCM), and ${n(run.savedItems)} saved items: each product of the
  500-product catalogue is in the \`wishlist\` of 1.5% to 15% of the savers.
- Load: open loop from the benchmark's process over 64 keep-alive connections,
  ${n(s.ratePerSecond)} calls/s in a fixed cycle of requests:
  one \`/v1/batch\` of ${String(MIX.batchCalls)} calls (${share(MIX.batchCalls)} of the calls),
  one signed \`/v1/segment\` array of ${String(MIX.webhookBatchCalls)} calls (${share(MIX.webhookBatchCalls)}),
  ${String(MIX.singles)} signed \`/v1/segment\` requests of one call each (${share(MIX.singles)}).
  The calls are the ingest benchmark's mobile-app calls of ${n(s.users)} users (identify with
  traits, screen, Product Viewed, wishlist adds, Product Added; 30% carry the user's
  push token), every ${String(MIX.removalEvery)}th replaced by a seeded saver's
  \`Product Removed from Wishlist\`. Every ${n(s.saleSeconds)} s the merchant's
  \`Product Updated\` with \`on_sale: true\` puts the next product on sale, and Nudge
  fans it out to its savers while the load goes on. Latency counts from each
  request's scheduled send time.
- Each interval: calls accepted per second (of requests answered 200 with every call
  accepted), the latency of the answers in the interval, errors (any other answer, a
  failed request, a call not accepted), Nudge's RSS (\`VmRSS\` in /proc), its V8 heap
  in use, its longest event-loop stall and its backlogs from \`GET /metrics\` (due:
  \`nudge_delivery_due\`; to plan: \`nudge_planner_pending_matches\`), the pushes the
  fakes accepted, and where the CPU went, in cores (/proc): Nudge's process, the
  PostgreSQL backends serving its database (PG), and the rest of the machine (other:
  its busy time minus these, the fakes and the load generator, i.e. PostgreSQL's own
  background work and anyone else's: the machine may be shared).
- At the end, once Nudge has planned and sent everything due: each acknowledged call's
  messageId is looked up in the events table (10,000 at a time), and the pushes the
  fakes accepted are compared with the deliveries Nudge recorded as sent.
- Baseline: a soak has no other server to be compared with; it is compared with its
  own beginning. The last minute's events/s and p99 are held against the first
  minute's, the RSS at the end against the RSS after the first minute, and the RSS is
  fitted by least squares over the second half of the run, when V8 has grown its heap
  (which takes it about three minutes: in a run of two, the fit still sees the growth).`;
}

/** The run as terminal text and as the Markdown of BENCHMARKS.md's section. */
export function formatSoakReport(run: SoakRun): {
  text: string;
  markdown: string;
} {
  const figures = soakFigures(run.intervals);
  const intervals = intervalRows(run.intervals);
  const baseline = baselineRows(figures);
  const checks = checkRows(run, figures);
  const lines = figureLines(run, figures);
  const note = `${n(run.settings.seconds)} s, ${n(run.settings.ratePerSecond)} calls/s, a sale every ${n(run.settings.saleSeconds)} s`;
  const text = [
    textTable(intervals),
    "",
    textTable(baseline),
    "",
    ...lines,
    "",
    textTable(checks),
  ].join("\n");
  const markdown = [
    "## Soak",
    "",
    method(run),
    "",
    ...runLines(run, note),
    "",
    markdownTable(baseline),
    "",
    markdownTable(checks, ["left", "right", "left"]),
    "",
    ...lines,
    "",
    `Every ${String(INTERVAL_SECONDS)} s (\`t\`: seconds since the load began):`,
    "",
    markdownTable(intervals),
  ].join("\n");
  return { text, markdown };
}
