import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  generateApnsSigningKey,
  startFakeApns,
  type FakeApns,
} from "../support/fake-apns.ts";
import { startFakeFcm, type FakeFcm } from "../support/fake-fcm.ts";
import {
  startNudge,
  waitFor,
  type NudgeProcess,
} from "../support/nudge-process.ts";
import { startTestApp, type TestApp } from "../support/test-app.ts";
import { testCertificates } from "../support/test-ca.ts";
import {
  apnsToken,
  createTestDatabase,
  fcmToken,
  uniqueId,
  type TestDatabase,
} from "../support/test-database.ts";
import {
  pingCalls,
  pingRules,
  saleRule,
  wishlist,
} from "./delivery-fixture.ts";

/*
 * Whole Nudge processes sharing one PostgreSQL, sending to fake APNs and FCM servers.
 * PGlite is an embedded database of one process, so these run on real Postgres only.
 */
const postgres = Boolean(process.env.TEST_DATABASE_URL);
/** Notifications a process has in its send window: a kill repeats no more. */
const BATCH_SIZE = 100;

/** The ping rule, and a sale for the savers of a product: a fan-out planned page by page. */
const rules = {
  ...pingRules,
  collections: [wishlist],
  rules: [...pingRules.rules, saleRule],
};

describe.runIf(postgres)("delivery across processes (PostgreSQL)", () => {
  const team = { teamId: "TEAM123456", keyId: "KEY1234567" };
  let dir: string;
  let database: TestDatabase;
  let app: TestApp;
  let apns: FakeApns;
  let fcm: FakeFcm;
  let env: Record<string, string>;
  const processes: NudgeProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "nudge-processes-"));
    const signing = generateApnsSigningKey();
    apns = await startFakeApns({ ...team, publicKey: signing.publicKey });
    fcm = await startFakeFcm();
    await writeFile(join(dir, "key.p8"), signing.p8);
    await writeFile(join(dir, "ca.pem"), testCertificates().ca);
    await writeFile(join(dir, "rules.json"), JSON.stringify(rules));
    database = await createTestDatabase();
    // This process ingests and plans; the Nudge processes under test deliver.
    app = await startTestApp(database, { rules });
    env = {
      DATABASE_URL: database.url ?? "",
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "warn",
      RULES_FILE: join(dir, "rules.json"),
      NODE_EXTRA_CA_CERTS: join(dir, "ca.pem"),
      APNS_KEY_FILE: join(dir, "key.p8"),
      APNS_KEY_ID: team.keyId,
      APNS_TEAM_ID: team.teamId,
      APNS_TOPIC: "com.example.shop",
      APNS_PRODUCTION: "false",
      APNS_HOST: apns.host,
      APNS_PORT: String(apns.port),
      FCM_PROJECT_ID: fcm.projectId,
      FCM_ACCESS_TOKEN: fcm.accessToken,
      FCM_BASE_URL: fcm.origin,
      DELIVERY_LEASE_SECONDS: "2",
      DELIVERY_BATCH_SIZE: String(BATCH_SIZE),
      // Slow enough that a fan-out is still under way when a test kills a process.
      APNS_RATE_PER_SEC: "400",
      FCM_RATE_PER_SEC: "400",
    };
  });

  afterAll(async () => {
    for (const nudge of processes) nudge.child.kill("SIGKILL");
    await Promise.all(processes.map((p) => p.exited));
    await app.close();
    await database.close();
    await apns.close();
    await fcm.close();
    await rm(dir, { recursive: true, force: true });
  });

  const spawnNudge = (overrides: Record<string, string> = {}) => {
    const nudge = startNudge({ ...env, ...overrides });
    processes.push(nudge);
    return nudge;
  };

  /** Users with one phone each, half iOS, half Android, each with a planned ping. */
  const fanOut = async (count: number) => {
    const users = Array.from({ length: count }, (_, i) => ({
      userId: uniqueId("user"),
      platform: i % 2 === 0 ? ("ios" as const) : ("android" as const),
      token: i % 2 === 0 ? apnsToken() : fcmToken(),
    }));
    for (let i = 0; i < users.length; i += 250) {
      const response = await app.request("POST", "/v1/segment", {
        body: users.slice(i, i + 250).flatMap(pingCalls),
      });
      expect(response.status).toBe(200);
    }
    await app.deps.planner.drain();
    return users;
  };

  /** What the fakes accepted for these users, as (token, collapse id) pairs. */
  const receivedBy = (tokens: Set<string>) => [
    ...apns.received
      .filter((p) => tokens.has(p.token))
      .map((p) => ({ token: p.token, collapseId: p.collapseId })),
    ...fcm.received
      .filter((m) => tokens.has(m.message.token as string))
      .map((m) => ({
        token: m.message.token as string,
        collapseId: m.message.android?.collapse_key as string | undefined,
      })),
  ];

  const statuses = async (userIds: readonly string[]) => {
    const rows = await database.db
      .selectFrom("notifications")
      .select("status")
      .where("user_id", "in", userIds)
      .execute();
    return rows.map((r) => r.status);
  };

  it("when two Nudge processes deliver one fan-out, then every device gets its push exactly once", async () => {
    const users = await fanOut(1_000);
    const tokens = new Set(users.map((u) => u.token));
    const sessionsBefore = apns.sessionCount() + fcm.sessionCount();
    const [first, second] = [spawnNudge(), spawnNudge()];

    await waitFor(() => receivedBy(tokens).length >= users.length, 60_000);
    await waitFor(
      async () =>
        (await statuses(users.map((u) => u.userId))).every((s) => s === "sent"),
      30_000,
    );
    const received = receivedBy(tokens);
    expect(received).toHaveLength(users.length);
    expect(new Set(received.map((r) => r.token))).toEqual(tokens);

    // Both took part: providers connect on their first send, one connection per
    // provider and process.
    expect(
      apns.sessionCount() + fcm.sessionCount() - sessionsBefore,
    ).toBeGreaterThanOrEqual(4);
    first.child.kill("SIGTERM");
    second.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(await second.exited).toBe(0);
  });

  it("when a Nudge process is killed mid-fan-out, then a new one delivers the rest, repeating at most one claim batch, under the same collapse id", async () => {
    const users = await fanOut(1_500);
    const tokens = new Set(users.map((u) => u.token));
    const victim = spawnNudge();
    await waitFor(() => receivedBy(tokens).length >= 300, 60_000);
    victim.child.kill("SIGKILL");
    await victim.exited;
    // What the dead process had claimed and not recorded: the in-flight batch.
    const inFlight = (await statuses(users.map((u) => u.userId))).filter(
      (s) => s === "sending",
    ).length;
    const deliveredBefore = receivedBy(tokens).length;
    expect(deliveredBefore).toBeLessThan(users.length);

    const successor = spawnNudge();
    await waitFor(
      async () =>
        (await statuses(users.map((u) => u.userId))).every((s) => s === "sent"),
      60_000,
    );
    const received = receivedBy(tokens);
    expect(new Set(received.map((r) => r.token))).toEqual(tokens);
    const repeats = received.length - users.length;
    expect(repeats).toBeLessThanOrEqual(inFlight);
    expect(repeats).toBeLessThanOrEqual(BATCH_SIZE);
    console.info(
      `SIGKILL mid-fan-out: ${String(users.length)} pushes, 0 lost, ` +
        `${String(repeats)} repeated (${String(inFlight)} claimed at the kill, bound ${String(BATCH_SIZE)})`,
    );
    // A repeat carries the first push's collapse id: the device shows one.
    const collapseIds = new Map<string, Set<string | undefined>>();
    for (const { token, collapseId } of received) {
      const ids = collapseIds.get(token) ?? new Set();
      ids.add(collapseId);
      collapseIds.set(token, ids);
    }
    expect([...collapseIds.values()].every((ids) => ids.size === 1)).toBe(true);

    successor.child.kill("SIGTERM");
    expect(await successor.exited).toBe(0);
  });
  it("when a process sending at full speed with the default window is killed, then it repeats at most that window", async () => {
    const users = await fanOut(20_000);
    const tokens = new Set(users.map((u) => u.token));
    const fullSpeed = {
      DELIVERY_BATCH_SIZE: "500",
      APNS_RATE_PER_SEC: "",
      FCM_RATE_PER_SEC: "",
    };
    const victim = spawnNudge(fullSpeed);
    await waitFor(() => receivedBy(tokens).length >= 8_000, 60_000);
    victim.child.kill("SIGKILL");
    await victim.exited;
    const successor = spawnNudge(fullSpeed);
    await waitFor(
      async () =>
        (await statuses(users.map((u) => u.userId))).every((s) => s === "sent"),
      120_000,
    );
    const received = receivedBy(tokens);
    expect(new Set(received.map((r) => r.token))).toEqual(tokens);
    const repeats = received.length - users.length;
    expect(repeats).toBeLessThanOrEqual(500);
    console.info(
      `SIGKILL mid-fan-out at full speed: ${String(users.length)} pushes, 0 lost, ` +
        `${String(repeats)} repeated (bound 500)`,
    );
    successor.child.kill("SIGTERM");
    expect(await successor.exited).toBe(0);
  }, 240_000);

  it("when the process sending a sale's fan-out is killed, then a successor plans it on from its last written page: every saver gets one push, at most one window twice, under the same collapse id", async () => {
    const productId = uniqueId("product");
    const users = Array.from({ length: 4_000 }, (_, i) => ({
      userId: uniqueId("saver"),
      platform: i % 2 === 0 ? ("ios" as const) : ("android" as const),
      token: i % 2 === 0 ? apnsToken() : fcmToken(),
    }));
    for (let i = 0; i < users.length; i += 250) {
      const response = await app.request("POST", "/v1/segment", {
        body: users.slice(i, i + 250).flatMap((user) => [
          pingCalls(user)[0],
          {
            type: "track",
            event: "Product Added to Wishlist",
            userId: user.userId,
            messageId: uniqueId("msg"),
            properties: { product_id: productId },
          },
        ]),
      });
      expect(response.status).toBe(200);
    }
    const tokens = new Set(users.map((u) => u.token));
    // The victim plans the sale and sends it; this process only records the match.
    const victim = spawnNudge();
    const sale = await app.request("POST", "/v1/segment", {
      body: {
        type: "track",
        event: "Product Updated",
        userId: "merchandiser",
        messageId: uniqueId("msg"),
        properties: { product_id: productId, on_sale: true },
      },
    });
    expect(sale.status).toBe(200);
    await waitFor(() => receivedBy(tokens).length >= 1_000, 60_000);
    victim.child.kill("SIGKILL");
    await victim.exited;
    const deliveredBefore = receivedBy(tokens).length;
    expect(deliveredBefore).toBeLessThan(users.length);

    const successor = spawnNudge();
    const written = async () => {
      const rows = await statuses(users.map((u) => u.userId));
      return rows.length === users.length && rows.every((s) => s === "sent");
    };
    await waitFor(written, 60_000);
    const received = receivedBy(tokens);
    expect(new Set(received.map((r) => r.token))).toEqual(tokens);
    const repeats = received.length - users.length;
    expect(repeats).toBeLessThanOrEqual(BATCH_SIZE);
    console.info(
      `SIGKILL mid-sale: ${String(users.length)} pushes, 0 lost, ` +
        `${String(repeats)} repeated (bound ${String(BATCH_SIZE)}), ` +
        `${String(deliveredBefore)} delivered before the kill`,
    );
    const collapseIds = new Map<string, Set<string | undefined>>();
    for (const { token, collapseId } of received) {
      const ids = collapseIds.get(token) ?? new Set();
      ids.add(collapseId);
      collapseIds.set(token, ids);
    }
    expect([...collapseIds.values()].every((ids) => ids.size === 1)).toBe(true);
    const match = await database.db
      .selectFrom("rule_matches")
      .select(["status", "planned", "claimed_by"])
      .where("item_key", "=", productId)
      .executeTakeFirstOrThrow();
    expect(match).toEqual({
      status: "expanded",
      planned: users.length,
      claimed_by: null,
    });

    successor.child.kill("SIGTERM");
    expect(await successor.exited).toBe(0);
  }, 120_000);
});
