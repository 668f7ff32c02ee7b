import { imageCommandLine } from "../scripts/start-command.ts";
import type { CpuUsage } from "./cpu-usage.ts";
import type { LoadResult } from "./load.ts";
import {
  formatNumber,
  middleRound,
  runLines,
  markdownTable,
  textTable,
  type Machine,
} from "./support.ts";

export type IngestSettings = {
  databaseUrl: string;
  seconds: number;
  warmupSeconds: number;
  /** The closed loop's numbers of connections, each measured in turn. */
  connections: number[];
  batchSize: number;
  ratePerSecond: number;
  users: number;
  rounds: number;
};

/** One measured run: the load figures, the events accepted and the CPU they cost. */
export type ScenarioFigures = {
  load: LoadResult;
  accepted: number;
  cpu: CpuUsage | undefined;
};

/** What one server achieved in the two scenarios: `batch` at each of `connections`. */
export type IngestFigures = {
  batch: ScenarioFigures[];
  webhook: ScenarioFigures;
};

const eventsPerSecond = (run: ScenarioFigures) =>
  run.accepted / run.load.seconds;
const answeredPerSecond = (run: ScenarioFigures) =>
  run.load.ok / run.load.seconds;
/** Microseconds of CPU per accepted event, NaN where it could not be measured. */
const cpuPerEvent = (run: ScenarioFigures, part: keyof CpuUsage) =>
  run.cpu === undefined ? Number.NaN : (run.cpu[part] * 1e6) / run.accepted;

/** Nudge and the baseline, measured one right after the other. */
export type IngestRound = { nudge: IngestFigures; baseline: IngestFigures };

/** The round a scenario's table shows, and its figure for every round in run order. */
type Representative = { round: IngestRound; each: number[] };

function representative(
  rounds: readonly IngestRound[],
  figure: (round: IngestRound) => number,
  better: "higher" | "lower",
): Representative {
  return {
    round: middleRound(rounds, figure, better),
    each: rounds.map(figure),
  };
}

/** A server's /v1/batch events/s at its best number of connections. */
const bestBatch = (figures: IngestFigures) =>
  Math.max(...figures.batch.map(eventsPerSecond));

/** Nudge's best events/s on /v1/batch as a share of the baseline's best in the same round. */
const batchShare = ({ nudge, baseline }: IngestRound) =>
  bestBatch(nudge) / bestBatch(baseline);
const webhookP99 = ({ nudge }: IngestRound) => nudge.webhook.load.latency.p99;

/** The goals of the ingest path, as fixed in the issue. */
export const GOALS = {
  batchShareOfBaseline: 0.5,
  webhookP99Ms: 50,
} as const;

type Goal = { name: string; value: string; met: boolean };

function evaluateGoals(
  settings: IngestSettings,
  batch: IngestRound,
  webhookRound: IngestRound,
): Goal[] {
  const share = batchShare(batch);
  const webhook = webhookRound.nudge.webhook.load;
  return [
    {
      name: `Nudge /v1/batch events/s ≥ ${GOALS.batchShareOfBaseline * 100}% of the baseline's, each at its best of ${settings.connections.join(" and ")} connections`,
      value: `${formatNumber(share * 100)}%`,
      met: share >= GOALS.batchShareOfBaseline,
    },
    {
      name: `Nudge /v1/segment p99 < ${GOALS.webhookP99Ms} ms at ${formatNumber(settings.ratePerSecond)} req/s, without errors`,
      value: `${formatNumber(webhook.latency.p99, 1)} ms, ${formatNumber(webhook.errors)} errors`,
      met: webhook.latency.p99 < GOALS.webhookP99Ms && webhook.errors === 0,
    },
  ];
}

function ratio(nudge: number, baseline: number): string {
  return baseline > 0 ? `${formatNumber(nudge / baseline, 2)}×` : "n/a";
}

type Scenario = { title: string; rows: string[][]; note?: string };

/**
 * One table per scenario: Nudge and the baseline side by side, and their ratio. The
 * batch note follows the last batch table, the one of the goal it reads.
 */
function scenarios(
  settings: IngestSettings,
  batch: IngestRound,
  webhook: IngestRound,
  notes: { batch: string; webhook: string },
): Scenario[] {
  const rowOf =
    ({ nudge, baseline }: IngestRound) =>
    (label: string, read: (figures: IngestFigures) => number, digits = 0) => [
      label,
      formatNumber(read(nudge), digits),
      formatNumber(read(baseline), digits),
      ratio(read(nudge), read(baseline)),
    ];
  const batchRow = rowOf(batch);
  const webhookRow = rowOf(webhook);
  const header = ["", "Nudge", "baseline", "Nudge / baseline"];
  const batchTable = (connections: number, i: number): Scenario => {
    const at = (f: IngestFigures) => f.batch[i] as ScenarioFigures;
    return {
      title: `\`POST /v1/batch\`, ${formatNumber(settings.batchSize)} events per request, ${formatNumber(connections)} connections, closed loop`,
      rows: [
        header,
        batchRow("events/s", (f) => eventsPerSecond(at(f))),
        batchRow("p50 latency, ms", (f) => at(f).load.latency.p50, 1),
        batchRow("p99 latency, ms", (f) => at(f).load.latency.p99, 1),
        batchRow("errors", (f) => at(f).load.errors),
        batchRow("server CPU, µs/event", (f) => cpuPerEvent(at(f), "server")),
        batchRow("PostgreSQL CPU, µs/event", (f) =>
          cpuPerEvent(at(f), "postgres"),
        ),
      ],
      note: i === settings.connections.length - 1 ? notes.batch : undefined,
    };
  };
  return [
    ...settings.connections.map(batchTable),
    {
      title: `\`POST /v1/segment\`, 1 event per request, ${formatNumber(settings.ratePerSecond)} requests/s, open loop`,
      rows: [
        header,
        webhookRow("achieved requests/s", (f) => answeredPerSecond(f.webhook)),
        webhookRow("p50 latency, ms", (f) => f.webhook.load.latency.p50, 1),
        webhookRow("p99 latency, ms", (f) => f.webhook.load.latency.p99, 1),
        webhookRow("errors", (f) => f.webhook.load.errors),
        webhookRow("server CPU, µs/event", (f) =>
          cpuPerEvent(f.webhook, "server"),
        ),
        webhookRow("PostgreSQL CPU, µs/event", (f) =>
          cpuPerEvent(f.webhook, "postgres"),
        ),
      ],
      note: notes.webhook,
    },
  ];
}

function firstErrors(
  settings: IngestSettings,
  rounds: readonly IngestRound[],
): string[] {
  return rounds.flatMap(({ nudge, baseline }, i) => {
    const named = (
      [
        ["Nudge", nudge],
        ["baseline", baseline],
      ] as const
    ).flatMap(([name, figures]) => [
      ...figures.batch.map(
        (run, level) =>
          [
            `${name} /v1/batch at ${String(settings.connections[level])} connections`,
            run.load,
          ] as const,
      ),
      [`${name} /v1/segment`, figures.webhook.load] as const,
    ]);
    return named
      .filter(([, load]) => load.firstError !== undefined)
      .map(
        ([name, load]) =>
          `round ${String(i + 1)}, ${name}, first error: ${load.firstError ?? ""}`,
      );
  });
}

/** Each round's figure behind a table, so the spread between rounds shows. */
function roundsLine(
  what: string,
  { each }: Representative,
  format: (value: number) => string,
): string {
  return `${what}, round by round: ${each.map(format).join(", ")}; the table shows the middle round.`;
}

const METHOD = `Both servers run as child processes on 127.0.0.1, one after the other, each on a
fresh PostgreSQL database; the load comes from the benchmark's own process over
keep-alive connections (undici). They are measured in rounds, the order alternating
from round to round, since a machine's speed can drift from minute to minute: each
table shows the round in the middle by the figure its goal reads (Nudge's share of the
baseline's events/s measured beside it; Nudge's p99), of an even number the worse of
the two in the middle, and lists that figure for every round.

Calls are mobile-app Segment calls of 0.7–1.1 KB with unique messageIds, from a pool
of users each with one device: 20% identify (traits, timezone, locale), 10% screen,
45% \`Product Viewed\`, 15% \`Product Added to Wishlist\` (filling the wishlist collection
of \`examples/rules.json\`), 10% \`Product Added\`; 30% carry a push token in
\`context.device\`. Nudge runs as the Docker image runs it (\`${imageCommandLine()}\`), with \`NODE_ENV=production\`, \`examples/rules.json\`, HTTP
Basic write-key auth on \`/v1/batch\` and signed \`/v1/segment\` webhooks. The baseline (\`bench/baseline-server.ts\`) is node:http
parsing the same JSON and storing the raw calls with one multi-row INSERT per request.

Per event, Nudge does more than the baseline: it validates the call, resolves the user
through profile aliases, upserts the profile and any device, preference or saved item
the call carries, records the rule matches (\`Product Added\` triggers the cart-abandoned
rule), keeps more indexes on its events table, and after each commit looks again for
ids that a concurrent merge made aliases (one more query per write); its planner, in the same process,
expands those matches into notifications while the load runs, and its CPU is counted.
The baseline only stores the raw JSON under a unique messageId.

- \`/v1/batch\`: closed loop, a fixed number of connections each sending its next batch as
  soon as the last is answered, measured with few connections and with many. events/s
  counts the events the server reported accepted. The goal compares the two servers'
  capacity, each at its best number of connections: with few, a server that writes each
  request on its own (the baseline) already keeps the cores busy, while one that gathers
  concurrent requests into shared transactions (Nudge) spends much of its time waiting
  for commits, and only more requests in flight let it use the cores the same way.
  Each server takes the first number of connections, then the webhooks, then the rest.
- \`/v1/segment\`: open loop at a fixed rate; latency counts from each request's scheduled
  send time, so time spent queueing behind a slow server is included.
- CPU µs/event: CPU time of the server's process and of the PostgreSQL backends serving
  its database during the measured run (from /proc), divided by the events accepted.
  The load generator and PostgreSQL share the machine's cores with the server.`;

/** The run as terminal tables and as the Markdown of BENCHMARKS.md's Ingest section. */
export function formatIngestReport(run: {
  settings: IngestSettings;
  machine: Machine;
  date: Date;
  command: string;
  rounds: readonly IngestRound[];
}): { text: string; markdown: string } {
  const { settings, rounds } = run;
  const batch = representative(rounds, batchShare, "higher");
  const webhook = representative(rounds, webhookP99, "lower");
  const tables = scenarios(settings, batch.round, webhook.round, {
    batch: roundsLine(
      "Nudge / baseline events/s, each at its best number of connections",
      batch,
      (share) => `${formatNumber(share, 2)}×`,
    ),
    webhook: roundsLine(
      "Nudge's p99",
      webhook,
      (ms) => `${formatNumber(ms, 1)} ms`,
    ),
  });
  const goalRows = [
    ["Goal", "Result", "Met"],
    ...evaluateGoals(settings, batch.round, webhook.round).map((goal) => [
      goal.name,
      goal.value,
      goal.met ? "yes" : "NO",
    ]),
  ];
  const errors = firstErrors(settings, rounds);
  const duration = `${formatNumber(settings.rounds)} rounds, ${formatNumber(settings.seconds)} s per scenario after ${formatNumber(settings.warmupSeconds)} s of warm-up, ${formatNumber(settings.users)} users`;

  const text = [
    `Ingest: ${duration}`,
    ...tables.flatMap(({ title, rows, note }) => [
      "",
      title.replaceAll("`", ""),
      textTable(rows),
      ...(note === undefined ? [] : [note]),
    ]),
    "",
    textTable(goalRows),
    ...errors,
  ].join("\n");
  const markdown = [
    "## Ingest",
    "",
    METHOD,
    "",
    ...runLines(run, duration),
    ...tables.flatMap(({ title, rows, note }) => [
      "",
      `${title}:`,
      "",
      markdownTable(rows),
      ...(note === undefined ? [] : ["", note]),
    ]),
    "",
    markdownTable(goalRows, ["left", "right", "left"]),
    ...(errors.length > 0 ? ["", ...errors.map((line) => `- ${line}`)] : []),
  ].join("\n");
  return { text, markdown };
}
