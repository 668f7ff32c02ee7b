/**
 * Nudge's side of the fan-out benchmark at one audience size: its real process on a
 * fresh database, delivering one sale to every saver of the product.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { openDatabase } from "../src/db/database.ts";
import { migrateToLatest } from "../src/db/migrator.ts";
import { segmentSignature } from "../src/ingest/signature.ts";
import {
  measureStatementAfterNudge,
  type StatementRun,
} from "./baseline-statement.ts";
import { startChildServer, type ChildServer } from "./child-server.ts";
import {
  processCpuSeconds,
  startCpuMeter,
  type CpuUsage,
} from "./cpu-usage.ts";
import { createAudience, saleEvent } from "./fanout-audience.ts";
import { APNS_TEAM, epochNow, type FakeCounts } from "./fanout-fakes-client.ts";
import {
  APNS_TOPIC,
  BROADCAST_RULE_ID,
  difference,
  firstOf,
  lastOf,
  procStatusBytes,
  pushesOf,
  rest,
  runTimeoutMs,
  withTimeout,
  type RunContext,
} from "./fanout-run-support.ts";
import { machineBusySeconds, waitForQuietMachine } from "./machine-load.ts";
import {
  adminQuery,
  createScratchDatabase,
  DELIVERIES_SQL,
} from "./support.ts";

const SHARED_SECRET = "bench-shared-secret";
const ADMIN_TOKEN = "bench-admin-token-0123456789";

/** Seconds after the sale was posted (epoch ms in, seconds out). */
export type NudgeTimeline = {
  answered: number;
  firstAccepted: number;
  lastPlanned: number;
  lastAccepted: number;
  allRecorded: number;
};

export type StatusCount = { status: string; count: number };

export type NudgeRun = {
  /** From the POST of the sale to the last push accepted by the fakes. */
  seconds: number;
  timeline: NudgeTimeline;
  /** Deliveries Nudge had recorded when it planned its last page. */
  recordedWhilePlanning: number;
  cpu: CpuUsage | undefined;
  fakesCpu: number | undefined;
  rssBeforeBytes: number | undefined;
  peakRssBytes: number | undefined;
  /** CPU the rest of the machine used meanwhile: other processes, Postgres' own. */
  otherCpu: number | undefined;
  fakes: FakeCounts;
  notifications: StatusCount[];
  deliveries: StatusCount[];
  /**
   * A sale's notifications written again, once Nudge has stopped, by the planning
   * benchmark's hand-written statement: what writing them costs PostgreSQL in one go.
   */
  statement?: StatementRun;
};

/**
 * How the fan-out is started: the sale posted as Segment's webhook destination posts
 * it (the wishlist's savers), or a broadcast to every profile triggered through the
 * admin API.
 */
export type FanOutStart = "sale" | "broadcast";

/** Nudge on a fresh database holding `users` savers of the product that goes on sale. */
export async function measureNudge(
  context: RunContext,
  users: number,
  start: FanOutStart = "sale",
): Promise<NudgeRun> {
  const database = await createScratchDatabase(
    context.serverUrl,
    "nudge_fanout_send",
  );
  try {
    const db = await openDatabase({ url: database.url, poolSize: 2 });
    try {
      await migrateToLatest(db);
      await createAudience(db, users, { reachable: true, now: new Date() });
      await adminQuery(database.url, "checkpoint").catch(() => undefined);
    } finally {
      await db.destroy();
    }
    context.signal.throwIfAborted();
    const nudge = await startChildServer({
      name: "nudge",
      script: context.nudge.entry,
      nodeFlags: context.nudge.nodeFlags,
      cwd: context.repoRoot,
      env: nudgeEnvironment(context, database.url),
      startTimeoutMs: 60_000,
    });
    let run: NudgeRun;
    try {
      run = await deliverSale(context, nudge, database, { users, start });
    } finally {
      await nudge.stop();
    }
    if (start !== "sale") return run;
    return { ...run, statement: await statementAfterNudge(database.url) };
  } finally {
    await database.drop();
  }
}

/** The hand-written statement writing Nudge's notifications again, on its database. */
async function statementAfterNudge(url: string): Promise<StatementRun> {
  const db = await openDatabase({ url, poolSize: 1 });
  try {
    return await measureStatementAfterNudge(db);
  } finally {
    await db.destroy();
  }
}

/** Nudge's environment: providers pointed at the fakes, the bench's rules, NODE_ENV=production. */
export function nudgeEnvironment(
  context: RunContext,
  databaseUrl: string,
): Record<string, string> {
  const { ready } = context.fakes;
  return {
    NODE_ENV: "production",
    ADMIN_TOKEN,
    LOG_LEVEL: "warn",
    DATABASE_URL: databaseUrl,
    RULES_FILE: context.files.rules,
    SEGMENT_SHARED_SECRET: SHARED_SECRET,
    NODE_EXTRA_CA_CERTS: context.files.ca,
    APNS_KEY_FILE: context.files.apnsKey,
    APNS_KEY_ID: APNS_TEAM.keyId,
    APNS_TEAM_ID: APNS_TEAM.teamId,
    APNS_TOPIC,
    APNS_PRODUCTION: "false",
    APNS_HOST: "127.0.0.1",
    APNS_PORT: String(ready.apnsPort),
    FCM_PROJECT_ID: ready.fcmProjectId,
    FCM_ACCESS_TOKEN: ready.fcmAccessToken,
    FCM_BASE_URL: ready.fcmOrigin,
    ...(context.nudgeNodeOptions === undefined
      ? {}
      : { NODE_OPTIONS: context.nudgeNodeOptions }),
  };
}

/** Posts the sale, then waits for the fakes to accept every push and for Nudge to record them. */
async function deliverSale(
  context: RunContext,
  nudge: ChildServer,
  database: { url: string; name: string },
  { users, start }: { users: number; start: FanOutStart },
): Promise<NudgeRun> {
  const { fakes } = context;
  const expected = pushesOf(users);
  await waitForQuietMachine();
  const rssBeforeBytes = await procStatusBytes(nudge.pid, "VmRSS");
  const { arrived } = await fakes.expect(
    expected.apns,
    expected.fcm,
    runTimeoutMs(users),
  );
  const meter = await startCpuMeter({
    serverPid: nudge.pid,
    serverUrl: context.serverUrl,
    databaseName: database.name,
  });
  const fakesCpuBefore = await processCpuSeconds(fakes.pid);
  const machineBefore = await machineBusySeconds();
  const postedAt = epochNow();
  await (start === "sale" ? postSale : triggerBroadcast)(
    nudge.url,
    context.signal,
  );
  const answeredAt = epochNow();
  const arrival = await withTimeout(
    arrived,
    "Nudge's last push",
    runTimeoutMs(users),
  );
  await withTimeout(
    waitUntilRecorded(database.url, users),
    "recording",
    runTimeoutMs(users),
  );
  const cpu = await meter.read();
  const fakesCpuAfter = await processCpuSeconds(fakes.pid);
  const machineAfter = await machineBusySeconds();
  const fakesCpu = difference(fakesCpuAfter, fakesCpuBefore);
  const peakRssBytes = await procStatusBytes(nudge.pid, "VmHWM");
  const since = (at: number) => (at - postedAt) / 1000;
  const times = await recordedTimes(database.url);
  return {
    seconds: since(lastOf(arrival)),
    timeline: {
      answered: since(answeredAt),
      firstAccepted: since(firstOf(arrival)),
      lastPlanned: since(times.lastPlanned),
      lastAccepted: since(lastOf(arrival)),
      allRecorded: since(times.allRecorded),
    },
    recordedWhilePlanning: times.recordedWhilePlanning,
    cpu,
    fakesCpu,
    otherCpu: rest(difference(machineAfter, machineBefore), [
      cpu?.server,
      cpu?.postgres,
      fakesCpu,
    ]),
    rssBeforeBytes,
    peakRssBytes,
    fakes: await fakes.counts(),
    notifications: await countByStatus(database.url, "notifications"),
    deliveries: await countByStatus(database.url, "deliveries"),
  };
}

/** Posts the sale as Segment's webhook destination would: one signed track call. */
async function postSale(nudgeUrl: string, signal: AbortSignal): Promise<void> {
  const body = JSON.stringify(saleEvent(new Date()));
  const response = await fetch(`${nudgeUrl}/v1/segment`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-signature": segmentSignature(SHARED_SECRET, body),
    },
    body,
    signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
  });
  const report = (await response.json()) as { accepted?: unknown };
  if (response.status !== 200 || report.accepted !== 1)
    throw new Error(
      `the sale was not accepted: ${String(response.status)} ${JSON.stringify(report)}`,
    );
}

/** Triggers the broadcast rule through the admin API, as an operator would. */
async function triggerBroadcast(
  nudgeUrl: string,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(
    `${nudgeUrl}/v1/rules/${BROADCAST_RULE_ID}/trigger`,
    {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${ADMIN_TOKEN}`,
      },
      body: JSON.stringify({ event: saleEvent(new Date()) }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
    },
  );
  if (response.status !== 202)
    throw new Error(
      `the broadcast was not triggered: ${String(response.status)} ${await response.text()}`,
    );
}

/**
 * Polls, on short-lived connections (so that the CPU meter does not count them), until
 * every notification is planned and none is left pending or sending.
 */
async function waitUntilRecorded(url: string, users: number): Promise<void> {
  for (;;) {
    const [row] = await adminQuery<{ open: number; total: number }>(
      url,
      `select count(*)::int as total,
        count(*) filter (where status in ('pending', 'sending'))::int as open
      from notifications`,
    );
    if (row !== undefined && row.total >= users && row.open === 0) return;
    await sleep(100);
  }
}

/**
 * When the last page was planned and the last outcome recorded, by Nudge's own clock
 * (epoch ms), and how many deliveries were recorded by the time of that last page.
 */
async function recordedTimes(url: string): Promise<{
  lastPlanned: number;
  allRecorded: number;
  recordedWhilePlanning: number;
}> {
  const [row] = await adminQuery<{
    planned: number;
    recorded: number;
    early: number;
  }>(
    url,
    `with n as (select max(created_at) as planned, max(updated_at) as recorded
      from notifications)
    select extract(epoch from n.planned)::float8 * 1000 as planned,
      extract(epoch from n.recorded)::float8 * 1000 as recorded,
      (select count(*)::int from (${DELIVERIES_SQL}) d where d.created_at <= n.planned) as early
    from n`,
  );
  return {
    lastPlanned: row?.planned ?? Number.NaN,
    allRecorded: row?.recorded ?? Number.NaN,
    recordedWhilePlanning: row?.early ?? Number.NaN,
  };
}

async function countByStatus(
  url: string,
  table: "notifications" | "deliveries",
): Promise<StatusCount[]> {
  const rows = table === "deliveries" ? `(${DELIVERIES_SQL}) d` : table;
  return adminQuery<StatusCount>(
    url,
    `select status, count(*)::int as count from ${rows} group by 1 order by 1`,
  );
}
