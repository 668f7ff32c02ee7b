import { execFileSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import { fileURLToPath } from "node:url";
import pg from "pg";
import * as prettier from "prettier";
import { imageCommand, type StartCommand } from "../scripts/start-command.ts";

/** Latency figures of one measurement, in milliseconds. */
export type LatencySummary = {
  count: number;
  p50: number;
  p99: number;
  max: number;
};

/** Nearest-rank percentile of an ascending list: the value that `q` of samples do not exceed. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export function summarizeLatencies(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const values = Array.from(sorted);
  return {
    count: values.length,
    p50: percentile(values, 0.5),
    p99: percentile(values, 0.99),
    max: values.at(-1) ?? Number.NaN,
  };
}

/** A positive number from the environment, or the default when the key is unset. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  return positiveNumber(name, raw);
}

/** A comma-separated list of positive numbers from the environment, e.g. "8,32". */
export function envNumbers(
  name: string,
  fallback: readonly number[],
): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return [...fallback];
  return raw.split(",").map((part) => positiveNumber(name, part));
}

function positiveNumber(name: string, text: string): number {
  const value = Number(text.trim());
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a positive number, got ${text}`);
  }
  return value;
}

/**
 * Nudge as production runs it: built as the Docker image builds it, then started with the same
 * Node flags and compiled entry point. The build's output goes to stdout.
 */
export function buildNudge(): StartCommand {
  execFileSync(process.execPath, ["scripts/build.ts"], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdio: "inherit",
  });
  return imageCommand();
}

/**
 * Node flags for Nudge's process (BENCH_NUDGE_NODE_OPTIONS, e.g. "--cpu-prof
 * --cpu-prof-dir=<dir>" to profile it): for profiling and experiments, never for the
 * record, so a run with them leaves BENCHMARKS.md alone.
 */
export function nudgeNodeOptions(): string | undefined {
  const options = process.env.BENCH_NUDGE_NODE_OPTIONS?.trim();
  return options === undefined || options === "" ? undefined : options;
}

/** Rounds each measurement is repeated (BENCH_ROUNDS, default 3): see `middleRound`. */
export function benchRounds(): number {
  return Math.max(1, Math.round(envNumber("BENCH_ROUNDS", 3)));
}

/**
 * The round in the middle by `figure` (of an even number, the worse of the two in
 * the middle), for the record of a machine whose speed drifts from minute to minute:
 * one run could meet or miss a goal by luck.
 */
export function middleRound<T>(
  rounds: readonly T[],
  figure: (round: T) => number,
  better: "higher" | "lower",
): T {
  const sign = better === "higher" ? 1 : -1;
  const worstFirst = [...rounds].sort((a, b) => sign * (figure(a) - figure(b)));
  const middle = worstFirst[Math.floor((worstFirst.length - 1) / 2)];
  if (middle === undefined) throw new Error("no round was measured");
  return middle;
}

/** The exact command that reproduces this run: the npm script with the bench keys that were set. */
export function describeCommand(
  script: string,
  keys: readonly string[],
): string {
  const set = keys
    .filter((key) => (process.env[key] ?? "") !== "")
    .map((key) => `${key}=${process.env[key] ?? ""}`);
  return [...set, `npm run ${script}`].join(" ");
}

export type Machine = {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string;
  /** The share of CPU time the hypervisor took during the runs (startStealMeter). */
  stolen?: number | undefined;
};

/** What the figures were measured on; PostgreSQL's version is read from the server itself. */
export async function describeMachine(databaseUrl: string): Promise<Machine> {
  const rows = await adminQuery<{ version: string }>(
    databaseUrl,
    "select version()",
  );
  return {
    cpu: os.cpus()[0]?.model.trim() ?? "unknown",
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: await describeOs(),
    node: process.version,
    postgres: rows[0]?.version ?? "unknown",
  };
}

async function describeOs(): Promise<string> {
  const kernel = `${os.type()} ${os.release()} ${os.arch()}`;
  try {
    const release = await readFile("/etc/os-release", "utf8");
    const name = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1];
    return name === undefined ? kernel : `${name}, ${kernel}`;
  } catch {
    return kernel;
  }
}

function machineLines(machine: Machine): string[] {
  return [
    `- CPU: ${machine.cpu}, ${machine.cores} cores`,
    `- Memory: ${machine.memoryGiB} GiB`,
    `- OS: ${machine.os}`,
    `- Node: ${machine.node}`,
    `- PostgreSQL: ${machine.postgres}`,
    ...(machine.stolen === undefined
      ? []
      : [
          `- CPU time taken by the hypervisor for other guests while it ran (steal): ${(100 * machine.stolen).toFixed(1)}%`,
        ]),
  ];
}

/** Where a report says when, with what command and on what machine it ran. */
export function runLines(
  run: { date: Date; command: string; machine: Machine },
  note?: string,
): string[] {
  const when = run.date.toISOString().slice(0, 10);
  const how = note === undefined ? "" : ` (${note})`;
  return [
    `Run on ${when} with \`${run.command}\`${how}, on:`,
    "",
    ...machineLines(run.machine),
  ];
}

/** Runs one statement on a short-lived connection (for CREATE/DROP DATABASE, which cannot run in a pool's transaction). */
export async function adminQuery<Row extends Record<string, unknown>>(
  databaseUrl: string,
  text: string,
  values: readonly unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<Row>(text, [...values])).rows;
  } finally {
    await client.end();
  }
}

/**
 * Every delivery Nudge recorded, as its notification history tells them: the rows of
 * `deliveries`, and the one send kept on a notification sent to its only device at the
 * first attempt (migration 0018), written when the notification was.
 */
export const DELIVERIES_SQL = `select status, created_at from deliveries
  union all
  select 'sent', updated_at from notifications where sent_device_id is not null`;

export type ScratchDatabase = {
  name: string;
  url: string;
  drop(): Promise<void>;
};

/** A new empty database on the server of `serverUrl`, dropped (even if still in use) by `drop`. */
export async function createScratchDatabase(
  serverUrl: string,
  prefix: string,
): Promise<ScratchDatabase> {
  const name = `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
  await adminQuery(serverUrl, `create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      await waitForDisconnect(serverUrl, name);
      await adminQuery(
        serverUrl,
        `drop database if exists ${name} with (force)`,
      );
    },
  };
}

/**
 * pg's pool.end() resolves once it has asked its connections to close, not once they
 * have: a DROP … WITH (FORCE) right after it kills one still closing, and its FATAL
 * 57P01 surfaces as an unhandled 'error' event that ends the benchmark. So give the
 * connections a moment to go first.
 */
async function waitForDisconnect(serverUrl: string, name: string) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const [row] = await adminQuery<{ connected: number }>(
      serverUrl,
      "select count(*)::int as connected from pg_stat_activity where datname = $1",
      [name],
    );
    if (row?.connected === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Rows as a fixed-width text table for the terminal. */
export function textTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          column === 0
            ? cell.padEnd(widths?.[column] ?? 0)
            : cell.padStart(widths?.[column] ?? 0),
        )
        .join("  "),
    )
    .join("\n");
}

/**
 * Rows as a Markdown table; the first row is the header. Columns after the first are
 * right-aligned (they hold figures) unless `align` says otherwise.
 */
export function markdownTable(
  rows: readonly (readonly string[])[],
  align: readonly ("left" | "right")[] = [],
): string {
  const [header, ...body] = rows;
  if (header === undefined) return "";
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  const rule = header.map((_, column) =>
    (align[column] ?? (column === 0 ? "left" : "right")) === "left"
      ? "---"
      : "---:",
  );
  return [line(header), line(rule), ...body.map(line)].join("\n");
}

const BENCHMARKS_PREAMBLE = `# Benchmarks

Each section below is written by the benchmark named in it (\`npm run bench:<name>\`),
which replaces only the text between its own markers. Figures depend on the machine and
on what else was running; compare Nudge with the baseline measured in the same run.
`;

/**
 * Replaces the text between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`,
 * or appends a marked section when there is none yet. Other sections are left alone.
 */
export function replaceSection(
  document: string,
  name: string,
  content: string,
): string {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = `${start}\n${content.trim()}\n${end}`;
  const from = document.indexOf(start);
  const to = document.indexOf(end, from);
  if (from === -1 || to === -1) {
    const base = document.trim() === "" ? BENCHMARKS_PREAMBLE : document;
    return `${base.trimEnd()}\n\n${section}\n`;
  }
  return document.slice(0, from) + section + document.slice(to + end.length);
}

/**
 * Writes one benchmark's section into a BENCHMARKS.md, creating the file if needed, and
 * formats the whole file with the project's Prettier so that the lint stays clean.
 */
export async function writeBenchmarkSection(
  file: URL,
  name: string,
  content: string,
): Promise<void> {
  let document = "";
  try {
    document = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const filepath = fileURLToPath(file);
  const options = (await prettier.resolveConfig(filepath)) ?? {};
  const formatted = await prettier.format(
    replaceSection(document, name, content),
    { ...options, filepath },
  );
  await writeFile(file, formatted);
}

export function formatNumber(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Prints a benchmark's report and writes its section of BENCHMARKS.md. */
export async function publishReport(
  section: string,
  title: string,
  report: { text: string; markdown: string },
): Promise<void> {
  console.log(`\n${report.text}`);
  await writeBenchmarkSection(
    new URL("../BENCHMARKS.md", import.meta.url),
    section,
    report.markdown,
  );
  console.log(`\nBENCHMARKS.md updated (${title} section)`);
}

/**
 * A signal that aborts on the first Ctrl-C, so a benchmark stops its load early and
 * still stops its children and drops its databases; a second Ctrl-C exits at once,
 * and the exit handlers kill the children.
 */
export function abortOnInterrupt(): AbortSignal {
  const controller = new AbortController();
  process.on("SIGINT", () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  });
  return controller.signal;
}
