import { imageCommandLine } from "../scripts/start-command.ts";
import {
  accepted,
  cpuOf,
  distinct,
  micros,
  MiB,
  mib,
  perPush,
  rate,
  seconds,
  sizeTable,
  statusTable,
  timelineTable,
  type SizeRun,
} from "./fanout-delivery-tables.ts";
import { CLAIM_SIZE, LANE_STREAMS } from "./fanout-run-support.ts";
import {
  formatNumber,
  runLines,
  markdownTable,
  textTable,
  type Machine,
} from "./support.ts";

export type { SizeRun } from "./fanout-delivery-tables.ts";

/** The goals of fan-out delivery, as fixed in the issue. */
export const GOALS = {
  /** Nudge's pushes/s as a fraction of the bare client's, in every round. */
  baselineFraction: 0.6,
  /** CPU per push of Nudge, PostgreSQL and the fakes, over the client's and the fakes'. */
  cpuRatio: 1.6,
  /** Peak RSS of Nudge's process, in bytes (300 MB). */
  peakRssBytes: 300e6,
} as const;

/** Cores kept busy, as a share of the machine's, above which a run is bound by CPU. */
const CPU_BOUND = 0.8;

/**
 * Where the time went, from the CPU figures: whether the run was bound by the
 * machine's cores, and what CPU per push the goal would allow.
 */
function timeBreakdown(large: SizeRun, cores: number): string {
  const { nudge, baseline, users } = large;
  const total = cpuOf(large);
  const nudgeMicros = perPush(total.nudge, users);
  const baseMicros = perPush(total.baseline, users);
  if (nudgeMicros === undefined || baseMicros === undefined) return "";
  const perProcess = (value: number | undefined) =>
    micros(perPush(value, users));
  const target = GOALS.baselineFraction * rate(users, baseline.seconds);
  const budget = (cores * 1e6) / target;
  const busy = (total.nudge ?? Number.NaN) / nudge.seconds;
  return (
    `At ${formatNumber(users)} savers, Nudge's process used ${perProcess(nudge.cpu?.server)} µs of CPU per push, ` +
    `the PostgreSQL backends serving it ${perProcess(nudge.cpu?.postgres)} µs and the fakes ${perProcess(nudge.fakesCpu)} µs: ` +
    `${micros(nudgeMicros)} µs in all, against ${micros(baseMicros)} µs for the bare client and the fakes ` +
    `(${perProcess(baseline.client.cpuSeconds)} + ${perProcess(baseline.fakesCpu)}). ` +
    `They kept ${seconds(busy)} of the machine's ${formatNumber(cores)} cores busy on average` +
    (busy >= CPU_BOUND * cores
      ? ": the run is bound by CPU"
      : ", so part of the time Nudge waited rather than worked") +
    `; at this cost the cores allow at most about ${formatNumber((cores * 1e6) / nudgeMicros)} pushes/s. ` +
    `${formatNumber(GOALS.baselineFraction, 1)}× the client's rate, ${formatNumber(target)} pushes/s, on ${formatNumber(cores)} cores leaves ` +
    `${formatNumber(budget)} µs of CPU per push for Nudge, PostgreSQL and the fakes together.` +
    floorBreakdown(large, { nudgeMicros, baseMicros, rateBudget: budget })
  );
}

/**
 * A floor for a sender that writes each notification, as the history and the stats
 * need: the bare client and the fakes, plus PostgreSQL writing the same rows in the
 * planning benchmark's hand-written statement; and what each goal leaves above it.
 */
function floorBreakdown(
  { nudge, users }: SizeRun,
  per: { nudgeMicros: number; baseMicros: number; rateBudget: number },
): string {
  const { nudgeMicros, baseMicros, rateBudget } = per;
  const statement = perPush(nudge.statement?.postgresCpu, users);
  if (statement === undefined) return "";
  const floor = baseMicros + statement;
  const cpuBudget = GOALS.cpuRatio * baseMicros;
  return (
    `\n\nA floor: the bare client and the fakes, plus PostgreSQL writing the same ` +
    `${formatNumber(nudge.statement?.inserted ?? 0)} notifications in ONE hand-written statement ` +
    `(${micros(statement)} µs per push), take ${micros(floor)} µs per push, ` +
    `${formatNumber(floor / baseMicros, 2)}× the client's and the fakes'. ` +
    `Above it, the CPU goal leaves ${micros(cpuBudget - floor)} µs per push ` +
    `and the rate goal ${micros(rateBudget - floor)} µs for all the rest of Nudge's work: ` +
    `reading, rendering and deciding per recipient, queueing, and carrying each row to PostgreSQL. ` +
    `Nudge's run took ${micros(nudgeMicros - floor)} µs per push above the floor.`
  );
}

type Goal = { name: string; value: string; met: boolean };

function evaluateGoals(large: SizeRun): Goal[] {
  const { nudge, users } = large;
  const total = cpuOf(large);
  const cpuRatio =
    (perPush(total.nudge, users) ?? Number.NaN) /
    (perPush(total.baseline, users) ?? Number.NaN);
  const sent = nudge.notifications.find((s) => s.status === "sent")?.count ?? 0;
  const complete =
    accepted(nudge.fakes) === users &&
    distinct(nudge.fakes) === users &&
    sent === users;
  const worst = Math.min(...large.shares);
  return [
    {
      name: `≥ ${formatNumber(GOALS.baselineFraction, 1)}× the bare client's pushes/s at ${formatNumber(users)} savers, in every round`,
      value: `${formatNumber(worst, 2)}× (the worst round)`,
      met: worst >= GOALS.baselineFraction,
    },
    {
      name: `CPU per push of Nudge, PostgreSQL and the fakes ≤ ${formatNumber(GOALS.cpuRatio, 1)}× the client's and the fakes'`,
      value: `${formatNumber(cpuRatio, 2)}×`,
      met: cpuRatio <= GOALS.cpuRatio,
    },
    {
      name: `Nudge's peak RSS < ${formatNumber(GOALS.peakRssBytes / 1e6)} MB (${formatNumber(GOALS.peakRssBytes / MiB, 1)} MiB)`,
      value: `${mib(nudge.peakRssBytes)} MiB`,
      met:
        nudge.peakRssBytes !== undefined &&
        nudge.peakRssBytes < GOALS.peakRssBytes,
    },
    {
      name: "Every device got its push once, every notification is sent",
      value: `${formatNumber(distinct(nudge.fakes))} devices, ${formatNumber(sent)} sent`,
      met: complete,
    },
  ];
}

const METHOD = `One sale, end to end. Each audience size gets a fresh PostgreSQL database, migrated
and filled set-based in SQL (\`createAudience(…, { reachable: true })\` in
\`bench/fanout-audience.ts\`): N users who all saved one product in the \`wishlist\`
collection (half saved another product too), each with a profile (a first name for 4
in 5, each different, so that every greeting is rendered anew; \`de-DE\` for 1 in 3) and ONE active device, APNs for even users and FCM for odd
ones (half each); nobody opted out of push or of promotions. Nudge runs as its own,
freshly started process (as the Docker image runs it: \`${imageCommandLine()}\`, \`NODE_ENV=production\`, \`LOG_LEVEL=warn\`,
the default delivery settings: claims of up to ${CLAIM_SIZE}, ${LANE_STREAMS.apns} APNs and ${LANE_STREAMS.fcm} FCM sends in
flight, pool of 10 connections) with \`examples/rules.json\` minus its quiet hours and
its 5% holdout, so that every saver is due at once whatever the time of the run
(variants, locales, dedupe, frequency cap, ttl and the category stay in force). The
benchmark posts ONE signed \`Product Updated\` (\`on_sale: true\`) to \`/v1/segment\`;
Nudge records the match, plans a notification per saver page by page, and delivers
them while it plans. Exactly N pushes are expected.

- Push services: the test suite's protocol-level fakes (\`test/support/fake-apns.ts\`,
  \`fake-fcm.ts\`: HTTP/2 over TLS with a CA made at start, provider-token and payload
  checks) in one process of their own, reached over 127.0.0.1 (\`APNS_HOST\`/\`APNS_PORT\`,
  \`FCM_BASE_URL\`, \`FCM_ACCESS_TOKEN\`, \`NODE_EXTRA_CA_CERTS\`). Told how many pushes to
  expect, they report when the first and the last were accepted. Nudge's time runs from
  the POST to the last push accepted; the stages after it are read from Nudge's rows
  (\`created_at\` of the last notification, \`created_at\` of the deliveries; a push
  sent to a notification's only device at its first attempt is recorded on the
  notification, and counted among the deliveries from there).
- Baseline: a bare \`node:http2\` client (\`bench/fanout-http2-client.ts\`, a process of
  its own) sending as many pushes, same split, same tokens, bodies of the same shape
  (FCM's built by Nudge's own \`fcmMessageOf\`) and the same auth headers, on one
  connection to each fake with ${LANE_STREAMS.apns} and ${LANE_STREAMS.fcm} streams in flight. Its time runs from its
  first connect to the last push accepted. An unreported warm-up of the fakes comes
  first. It does nothing but send: no database, no planning.
- Rounds: each size is measured in rounds (BENCH_ROUNDS, 3 by default), the client
  and Nudge one right after the other, the client first in odd rounds and second in
  even ones, since the machine's speed drifts from minute to minute. The tables show
  the round in the middle by Nudge's share of the client's pushes/s (of an even
  number, the worse of the two), and list that share for every round.
- CPU, from /proc: Nudge's process, the PostgreSQL backends connected to its database,
  the fakes' process, the bare client. "Rest of the machine" is the machine's busy time
  minus these: PostgreSQL's own background processes (WAL writer, checkpointer,
  autovacuum), the benchmark itself, anything else running. Each measurement waits
  for the machine to be idle before it starts. Peak RSS: Nudge's \`VmHWM\` (start-up
  included), the client's \`maxRSS\`.
- The machine's cores are shared by Nudge, PostgreSQL and the fakes (by the client and
  the fakes for the baseline).
- Floor: once Nudge has stopped, its notifications are set aside and the planning
  benchmark's ONE hand-written \`INSERT … SELECT\` (\`insertBaselineNotifications\`,
  policy and content written into the SQL) writes the same audience's rows again on one
  connection; its backend's CPU is what writing them costs PostgreSQL when it does all
  the work in one set-based statement, with no round trips. Added to the bare client's
  and the fakes' CPU, it is a floor for a sender that keeps a row per notification, as
  Nudge's history and stats need.`;

/** The run as terminal tables and as the Markdown of BENCHMARKS.md's section. */
/**
 * The section's title: the default audience (100,000 savers) is "Fan-out delivery";
 * another size, such as the million-saver run, has a section of its own.
 */
export function deliveryReportTitle(users: number): string {
  return users === DEFAULT_USERS
    ? "Fan-out delivery"
    : `Fan-out delivery to ${formatNumber(users)} savers`;
}

/** The larger audience measured when BENCH_USERS is not set. */
export const DEFAULT_USERS = 100_000;

export function formatDeliveryReport(run: {
  machine: Machine;
  date: Date;
  command: string;
  sizes: readonly SizeRun[];
}): { text: string; markdown: string } {
  const large = run.sizes.at(-1);
  if (large === undefined) throw new Error("no audience size was measured");
  const sizeTables = run.sizes.map((size) => ({
    title: `${formatNumber(size.users)} savers (${formatNumber(size.users)} pushes):`,
    rows: sizeTable(size),
    note: `Nudge / client pushes/s, round by round: ${size.shares.map((share) => `${formatNumber(share, 2)}×`).join(", ")}; the table and the rest of this section show the middle round.`,
  }));
  const timeline = timelineTable(run.sizes);
  const statuses = statusTable(run.sizes);
  const goalRows = [
    ["Goal", "Result", "Met"],
    ...evaluateGoals(large).map((g) => [g.name, g.value, g.met ? "yes" : "NO"]),
  ];
  const breakdown = timeBreakdown(large, run.machine.cores);
  const text = [
    ...sizeTables.flatMap(({ title, rows, note }) => [
      title,
      textTable(rows),
      note,
      "",
    ]),
    textTable(timeline),
    "",
    textTable(statuses),
    "",
    textTable(goalRows),
    "",
    breakdown,
  ].join("\n");
  const markdown = [
    `## ${deliveryReportTitle(large.users)}`,
    "",
    METHOD,
    "",
    ...runLines(run),
    ...sizeTables.flatMap(({ title, rows, note }) => [
      "",
      title,
      "",
      markdownTable(rows),
      "",
      note,
    ]),
    "",
    "Where Nudge's time went:",
    "",
    markdownTable(timeline),
    "",
    "Nudge's rows afterwards (the proof that it did the whole job):",
    "",
    markdownTable(statuses, ["left", "left"]),
    "",
    markdownTable(goalRows, ["left", "right", "left"]),
    "",
    breakdown,
  ].join("\n");
  return { text, markdown };
}
