import type { BaselineRun } from "./fanout-baseline-run.ts";
import type { FakeCounts } from "./fanout-fakes-client.ts";
import type { NudgeRun, StatusCount } from "./fanout-nudge-run.ts";
import { formatNumber } from "./support.ts";

/** Both measurements at one audience size. */
/** One round at one audience size: Nudge and the bare client, one after the other. */
export type SizeRound = { nudge: NudgeRun; baseline: BaselineRun };

/**
 * One audience size: the round in the middle by Nudge's share of the client's
 * pushes/s, and that share for every round in the order they ran.
 */
export type SizeRun = SizeRound & { users: number; shares: number[] };

export const MiB = 2 ** 20;
export const seconds = (value: number | undefined) =>
  value === undefined || !Number.isFinite(value)
    ? "n/a"
    : formatNumber(value, 2);
const cpu = seconds;
export const mib = (bytes: number | undefined) =>
  bytes === undefined ? "n/a" : formatNumber(bytes / MiB, 1);
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !(b > 0) || !Number.isFinite(a)
    ? "n/a"
    : `${formatNumber(a / b, 2)}×`;
export const accepted = (counts: FakeCounts) =>
  counts.apns.accepted + counts.fcm.accepted;
export const distinct = (counts: FakeCounts) =>
  counts.apns.distinctTokens + counts.fcm.distinctTokens;
const refused = (counts: FakeCounts) =>
  counts.apns.requests +
  counts.fcm.requests -
  counts.apns.accepted -
  counts.fcm.accepted;
export const rate = (users: number, time: number) => users / time;

/** CPU seconds of every process measured in a run, by role. */
export function cpuOf(run: SizeRun) {
  const { nudge, baseline } = run;
  const nudgeParts = [nudge.cpu?.server, nudge.cpu?.postgres, nudge.fakesCpu];
  const baseParts = [baseline.client.cpuSeconds, baseline.fakesCpu];
  const sum = (parts: readonly (number | undefined)[]) =>
    parts.some((p) => p === undefined)
      ? undefined
      : parts.reduce<number>((total, p) => total + (p ?? 0), 0);
  return { nudge: sum(nudgeParts), baseline: sum(baseParts) };
}

export const perPush = (cpuSeconds: number | undefined, users: number) =>
  cpuSeconds === undefined ? undefined : (cpuSeconds * 1e6) / users;
export const micros = (value: number | undefined) =>
  value === undefined ? "n/a" : formatNumber(value);

/** Nudge beside the bare client at one size. */
export function sizeTable(run: SizeRun): string[][] {
  const { nudge, baseline, users } = run;
  const nudgeRate = rate(users, nudge.seconds);
  const baseRate = rate(users, baseline.seconds);
  const total = cpuOf(run);
  const pushes = (counts: FakeCounts) =>
    `${formatNumber(counts.apns.accepted)} + ${formatNumber(counts.fcm.accepted)}`;
  const outcome = (counts: FakeCounts) =>
    [distinct(counts), accepted(counts) - distinct(counts), refused(counts)]
      .map((n) => formatNumber(n))
      .join(" / ");
  return [
    ["", "Nudge", "bare HTTP/2 client", "Nudge / client"],
    [
      "time to the last push accepted, s",
      seconds(nudge.seconds),
      seconds(baseline.seconds),
      ratio(nudge.seconds, baseline.seconds),
    ],
    [
      "pushes/s",
      formatNumber(nudgeRate),
      formatNumber(baseRate),
      ratio(nudgeRate, baseRate),
    ],
    [
      "pushes accepted (APNs + FCM)",
      pushes(nudge.fakes),
      pushes(baseline.fakes),
      "",
    ],
    [
      "devices reached / repeats / refused",
      outcome(nudge.fakes),
      outcome(baseline.fakes),
      "",
    ],
    [
      "sender CPU, s (Nudge / the client)",
      cpu(nudge.cpu?.server),
      cpu(baseline.client.cpuSeconds),
      ratio(nudge.cpu?.server, baseline.client.cpuSeconds),
    ],
    ["PostgreSQL CPU, s", cpu(nudge.cpu?.postgres), "—", ""],
    [
      "fakes' CPU, s",
      cpu(nudge.fakesCpu),
      cpu(baseline.fakesCpu),
      ratio(nudge.fakesCpu, baseline.fakesCpu),
    ],
    [
      "all of these, µs of CPU per push",
      micros(perPush(total.nudge, users)),
      micros(perPush(total.baseline, users)),
      ratio(total.nudge, total.baseline),
    ],
    [
      "cores kept busy by them, on average",
      seconds((total.nudge ?? Number.NaN) / nudge.seconds),
      seconds((total.baseline ?? Number.NaN) / baseline.seconds),
      "",
    ],
    [
      "rest of the machine's CPU, s",
      cpu(nudge.otherCpu),
      cpu(baseline.otherCpu),
      "",
    ],
    ...(nudge.statement === undefined
      ? []
      : [
          [
            "PostgreSQL CPU of one statement writing the same rows, s",
            cpu(nudge.statement.postgresCpu),
            "—",
            "",
          ],
        ]),
    ["sender RSS before the sale, MiB", mib(nudge.rssBeforeBytes), "—", ""],
    [
      "sender peak RSS, MiB",
      mib(nudge.peakRssBytes),
      mib(baseline.client.maxRssBytes),
      ratio(nudge.peakRssBytes, baseline.client.maxRssBytes),
    ],
  ];
}

/** When each stage of Nudge's work ended, in seconds after the POST, per size. */
export function timelineTable(runs: readonly SizeRun[]): string[][] {
  const row = (label: string, read: (run: NudgeRun) => number) => [
    label,
    ...runs.map((r) => seconds(read(r.nudge))),
  ];
  return [
    [
      "Nudge, seconds after the POST",
      ...runs.map((r) => `${formatNumber(r.users)} savers`),
    ],
    row("POST answered (match recorded)", (n) => n.timeline.answered),
    row("first push accepted", (n) => n.timeline.firstAccepted),
    row("last page planned", (n) => n.timeline.lastPlanned),
    row("last push accepted", (n) => n.timeline.lastAccepted),
    row("all outcomes recorded", (n) => n.timeline.allRecorded),
    [
      "pushes recorded as sent while planning",
      ...runs.map((r) => formatNumber(r.nudge.recordedWhilePlanning)),
    ],
    [
      "pushes/s while planning",
      ...runs.map((r) =>
        formatNumber(
          r.nudge.recordedWhilePlanning / r.nudge.timeline.lastPlanned,
        ),
      ),
    ],
    [
      "pushes/s after planning",
      ...runs.map((r) =>
        formatNumber(
          (r.users - r.nudge.recordedWhilePlanning) /
            (r.nudge.timeline.lastAccepted - r.nudge.timeline.lastPlanned),
        ),
      ),
    ],
  ];
}

export function statusTable(runs: readonly SizeRun[]): string[][] {
  const keys = (pick: (n: NudgeRun) => StatusCount[]) => [
    ...new Set(runs.flatMap((r) => pick(r.nudge).map((s) => s.status))),
  ];
  const countOf = (list: readonly StatusCount[], status: string) =>
    formatNumber(list.find((s) => s.status === status)?.count ?? 0);
  const rows = (
    table: string,
    pick: (n: NudgeRun) => StatusCount[],
  ): string[][] =>
    keys(pick).map((status) => [
      table,
      status,
      ...runs.map((r) => countOf(pick(r.nudge), status)),
    ]);
  return [
    ["table", "status", ...runs.map((r) => `${formatNumber(r.users)} savers`)],
    ...rows("notifications", (n) => n.notifications),
    ...rows("deliveries", (n) => n.deliveries),
  ];
}
