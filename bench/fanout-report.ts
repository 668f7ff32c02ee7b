import type { StatementRun } from "./baseline-statement.ts";
import type { OutcomeCount } from "./fanout-audience.ts";
import type { PlannerRun } from "./fanout-plan-child.ts";
import {
  formatNumber,
  runLines,
  markdownTable,
  textTable,
  type Machine,
} from "./support.ts";

/** Everything measured at one audience size. */
export type SizeFigures = {
  users: number;
  nudge: PlannerRun;
  baseline: StatementRun;
  nudgeOutcomes: OutcomeCount[];
  baselineOutcomes: OutcomeCount[];
  /** Rows that differ between the two outputs in anything but their ids. */
  differences: number;
};

/** The goals of fan-out planning, as fixed in the issue. */
export const GOALS = {
  /** Nudge's time at the largest audience, as a multiple of the baseline's. */
  timeRatio: 2,
  /**
   * Peak RSS growth from the smaller to the 10× larger audience that still counts as
   * flat. Memory that followed the audience would grow ~10×; V8 grows its heap lazily
   * up to a limit before collecting, so a longer run peaks somewhat higher anyway.
   */
  rssGrowth: 2,
} as const;

const MiB = 2 ** 20;
const total = (outcomes: readonly OutcomeCount[]) =>
  outcomes.reduce((sum, o) => sum + o.count, 0);
const ratio = (a: number, b: number) =>
  b > 0 && Number.isFinite(a) ? `${formatNumber(a / b, 2)}×` : "n/a";
const seconds = (value: number | undefined) =>
  value === undefined ? "n/a" : formatNumber(value, 2);

/** Nudge beside the baseline at one size. */
function sizeTable(size: SizeFigures): string[][] {
  const { nudge, baseline } = size;
  const nudgeRows = total(size.nudgeOutcomes);
  return [
    ["", "Nudge", "baseline", "Nudge / baseline"],
    [
      "time, s",
      seconds(nudge.seconds),
      seconds(baseline.seconds),
      ratio(nudge.seconds, baseline.seconds),
    ],
    [
      "notifications/s",
      formatNumber(nudgeRows / nudge.seconds),
      formatNumber(baseline.inserted / baseline.seconds),
      ratio(baseline.seconds, nudge.seconds),
    ],
    ["planner process CPU, s", seconds(nudge.cpu?.server), "—", "n/a"],
    [
      "PostgreSQL CPU, s",
      seconds(nudge.cpu?.postgres),
      seconds(baseline.postgresCpu),
      ratio(nudge.cpu?.postgres ?? Number.NaN, baseline.postgresCpu ?? 0),
    ],
    [
      "notifications written",
      formatNumber(nudgeRows),
      formatNumber(baseline.inserted),
      ratio(nudgeRows, baseline.inserted),
    ],
  ];
}

function memoryTable(small: SizeFigures, large: SizeFigures): string[][] {
  const mib = (bytes: number) => formatNumber(bytes / MiB, 1);
  const row = (label: string, read: (run: PlannerRun) => number) => [
    label,
    mib(read(small.nudge)),
    mib(read(large.nudge)),
    ratio(read(large.nudge), read(small.nudge)),
  ];
  return [
    [
      "Nudge's planner process",
      `${formatNumber(small.users)} savers`,
      `${formatNumber(large.users)} savers`,
      "larger / smaller",
    ],
    row("peak RSS, MiB", (run) => run.maxRssBytes),
    row("RSS before planning, MiB", (run) => run.rssBeforeBytes),
    row("live heap after planning, MiB", (run) => run.liveHeapAfterBytes),
  ];
}

/** Rows by status, reason and deferral, for both outputs at every size. */
function outcomeTable(sizes: readonly SizeFigures[]): string[][] {
  const keyOf = (o: OutcomeCount) =>
    [o.status, o.reason ?? "", o.deferredBy ?? ""].join("\u0000");
  const keys = [
    ...new Set(
      sizes.flatMap((s) =>
        [...s.nudgeOutcomes, ...s.baselineOutcomes].map(keyOf),
      ),
    ),
  ].sort();
  const countOf = (outcomes: readonly OutcomeCount[], key: string) =>
    formatNumber(outcomes.find((o) => keyOf(o) === key)?.count ?? 0);
  return [
    [
      "status",
      "reason / deferred by",
      ...sizes.flatMap((s) => [
        `Nudge ${formatNumber(s.users)}`,
        `baseline ${formatNumber(s.users)}`,
      ]),
    ],
    ...keys.map((key) => {
      const [status = "", reason = "", deferred = ""] = key.split("\u0000");
      return [
        status,
        reason || deferred || "—",
        ...sizes.flatMap((s) => [
          countOf(s.nudgeOutcomes, key),
          countOf(s.baselineOutcomes, key),
        ]),
      ];
    }),
    [
      "all",
      "",
      ...sizes.flatMap((s) => [
        formatNumber(total(s.nudgeOutcomes)),
        formatNumber(total(s.baselineOutcomes)),
      ]),
    ],
    [
      "rows that differ",
      "(all columns but the ids)",
      ...sizes.flatMap((s) => ["", formatNumber(s.differences)]),
    ],
  ];
}

type Goal = { name: string; value: string; met: boolean };

function evaluateGoals(small: SizeFigures, large: SizeFigures): Goal[] {
  const timeRatio = large.nudge.seconds / large.baseline.seconds;
  const growth = large.nudge.maxRssBytes / small.nudge.maxRssBytes;
  const complete =
    total(large.nudgeOutcomes) === large.users &&
    large.baseline.inserted === large.users &&
    large.differences === 0;
  return [
    {
      name: `Nudge's time ≤ ${GOALS.timeRatio}× the baseline's at ${formatNumber(large.users)} savers`,
      value: `${formatNumber(timeRatio, 2)}×`,
      met: timeRatio <= GOALS.timeRatio,
    },
    {
      name: `Nudge's peak RSS flat: ≤ ${GOALS.rssGrowth}× at ${formatNumber(large.users / small.users)}× the audience (linear: ~${formatNumber(large.users / small.users)}×)`,
      value: `${formatNumber(growth, 2)}×`,
      met: growth <= GOALS.rssGrowth,
    },
    {
      name: "Every saver has one notification, identical in both outputs",
      value: `${formatNumber(large.differences)} rows differ`,
      met: complete,
    },
  ];
}

/** Where Nudge's time went, from the CPU its process and PostgreSQL used. */
function timeBreakdown(large: SizeFigures, timeGoalMet: boolean): string {
  const { nudge, baseline } = large;
  if (nudge.cpu === undefined) return "";
  const { server: node, postgres } = nudge.cpu;
  const text =
    `At ${formatNumber(large.users)} savers, Nudge's planner process was on a CPU for ` +
    `${seconds(node)} s of its ${seconds(nudge.seconds)} s (Kysely and pg, the policy, ` +
    `Liquid), the PostgreSQL backends serving it for ${seconds(postgres)} s; the ` +
    `baseline's one statement cost PostgreSQL ${seconds(baseline.postgresCpu)} s.`;
  if (timeGoalMet) return text;
  const where =
    node > postgres
      ? "in the planner's own process: profile it with --cpu-prof"
      : "in PostgreSQL: compare the plans of the planner's queries with EXPLAIN";
  return `${text} The time goal is missed; most of the time is spent ${where}.`;
}

const METHOD = `Each audience size gets a fresh PostgreSQL database, migrated and filled set-based
in SQL: N users who all saved one product in the \`wishlist\` collection of
\`examples/rules.json\` (half saved another product too), each with a profile (a first
name for 4 in 5, \`de-DE\` for 1 in 3, \`en-US\` otherwise, six timezones of which three
are in quiet hours at the fixed clock of 12:00 UTC), one APNs or FCM device (disabled
for 1 in 50), a push opt-out for 1 in 101 and a promotions opt-out for 1 in 10. The
product's \`Product Updated\` sale is recorded as ingest records it: one pending match
of \`wishlist-on-sale\`.

- Nudge: the real planner (\`createPlanner(…).drain()\`) in a child process of its own,
  expanding the match page by page until it is done; time, CPU and peak RSS are the
  child's own (its start-up and imports are not timed, but are in its peak RSS).
- Baseline: Nudge's rows are set aside and the table emptied, then ONE hand-written
  \`INSERT … SELECT\` writes the same rows: policy (device, opt-outs, holdout, variants by
  the same sha256 draw, dedupe, cap, quiet hours per timezone, ttl) and content (title,
  body, deep link, image, locale) written into the SQL. Both outputs are then compared
  row by row on every column but the random notification id.
- CPU: of the planner process and of the PostgreSQL backends connected to its database
  (from /proc); for the baseline, of the one backend that ran the statement.
- Memory: the planner's peak RSS (\`resourceUsage().maxRSS\`), its RSS when planning
  starts, and its live heap after planning (after a full collection).`;

/** The run as terminal tables and as the Markdown of BENCHMARKS.md's section. */
export function formatFanoutReport(run: {
  machine: Machine;
  date: Date;
  command: string;
  sizes: readonly SizeFigures[];
}): { text: string; markdown: string } {
  const { sizes } = run;
  const small = sizes[0];
  const large = sizes.at(-1);
  if (small === undefined || large === undefined)
    throw new Error("no audience size was measured");
  const sizeTables = sizes.map((size) => ({
    title: `${formatNumber(size.users)} savers`,
    rows: sizeTable(size),
  }));
  const memory = memoryTable(small, large);
  const outcomes = outcomeTable(sizes);
  const goals = evaluateGoals(small, large);
  const goalRows = [
    ["Goal", "Result", "Met"],
    ...goals.map((g) => [g.name, g.value, g.met ? "yes" : "NO"]),
  ];
  const breakdown = timeBreakdown(large, goals[0]?.met ?? false);
  const text = [
    ...sizeTables.flatMap(({ title, rows }) => [title, textTable(rows), ""]),
    textTable(memory),
    "",
    textTable(outcomes),
    "",
    textTable(goalRows),
    "",
    breakdown,
  ].join("\n");
  const markdown = [
    "## Fan-out planning",
    "",
    METHOD,
    "",
    ...runLines(run),
    ...sizeTables.flatMap(({ title, rows }) => [
      "",
      `${title}:`,
      "",
      markdownTable(rows),
    ]),
    "",
    "Memory:",
    "",
    markdownTable(memory),
    "",
    "Notifications by outcome (the proof that both did the whole job):",
    "",
    markdownTable(outcomes, ["left", "left"]),
    "",
    markdownTable(goalRows, ["left", "right", "left"]),
    "",
    breakdown,
  ].join("\n");
  return { text, markdown };
}
