import { describe, expect, it } from "vitest";
import { useDeliveryApp } from "./delivery-fixture.ts";

const logLines: string[] = [];
const ctx = useDeliveryApp(
  {
    // Two attempts: an outage that used them up would fail every push at once.
    env: { DELIVERY_MAX_ATTEMPTS: "2", LOG_LEVEL: "info" },
    logDestination: { write: (line) => logLines.push(line) },
  },
  { providerTimeoutMs: 300 },
);

const NOON = new Date("2026-07-01T12:00:00Z");
const USERS = 12;
/** Times the provider is tried and found still down, each after its pause. */
const ROUNDS_DOWN = 4;

type Platform = "ios" | "android";

/** `USERS` users with one device each, and one pending notification for each. */
async function pendingPushes(platform: Platform) {
  ctx.app.setNow(NOON);
  const users = [];
  for (let i = 0; i < USERS; i++) users.push(await ctx.userWith(platform));
  for (const { userId } of users) await ctx.ping(userId);
  return users.map(({ userId, devices }) => ({
    userId,
    token: devices[0]?.token ?? "",
  }));
}

async function notificationsOf(users: readonly { userId: string }[]) {
  return ctx.database.db
    .selectFrom("notifications")
    .select(["user_id", "status", "reason", "attempts", "send_at"])
    .where(
      "user_id",
      "in",
      users.map((u) => u.userId),
    )
    .execute();
}

/** Lets time pass until every waiting notification is due, then delivers. */
async function deliverWhenDue(users: readonly { userId: string }[]) {
  const rows = await notificationsOf(users);
  const latest = Math.max(...rows.map((r) => r.send_at.getTime()));
  ctx.app.setNow(new Date(latest));
  await ctx.deliver();
  return notificationsOf(users);
}

/** The provider stays down for `ROUNDS_DOWN` tries, then recovers. */
async function downThenRecovered(
  users: readonly { userId: string; token: string }[],
  recover: () => void,
) {
  const requestCount = () =>
    ctx.fakes.apns.requestCount() + ctx.fakes.fcm.requestCount();
  await ctx.deliver();
  const whileDown = [await notificationsOf(users)];
  // Paused, nothing is due and nothing is tried until the pause ends.
  const tried = requestCount();
  await ctx.deliver();
  expect(requestCount()).toBe(tried);
  for (let round = 0; round < ROUNDS_DOWN; round++)
    whileDown.push(await deliverWhenDue(users));
  recover();
  const recovered = await deliverWhenDue(users);
  return { whileDown, recovered };
}

function sentOnce(
  received: readonly string[],
  users: readonly { token: string }[],
): void {
  for (const { token } of users)
    expect(received.filter((t) => t === token)).toHaveLength(1);
}

describe("delivery: a provider that is down", () => {
  it("when APNs stops answering and recovers later, then no push fails for it, and each is sent once after the recovery", async () => {
    const users = await pendingPushes("ios");
    ctx.fakes.apns.stall();

    const { whileDown, recovered } = await downThenRecovered(users, () => {
      ctx.fakes.apns.recover();
    });

    for (const rows of whileDown) {
      expect(rows.map((r) => r.status)).toEqual(Array(USERS).fill("pending"));
      // The outage took no attempt from any of them.
      expect(rows.map((r) => r.attempts)).toEqual(Array(USERS).fill(0));
    }
    expect(whileDown.at(-1)?.map((r) => r.reason)).toContainEqual(
      expect.stringMatching(
        /^apns paused until .*: no answer from APNs: apn write timeout$/,
      ),
    );
    expect(recovered.map((r) => [r.status, r.attempts])).toEqual(
      Array(USERS).fill(["sent", 1]),
    );
    sentOnce(
      ctx.fakes.apns.received.map((p) => p.token),
      users,
    );
    expect(logLines.join("")).toContain('"msg":"provider answers again"');
  });

  it("when FCM answers 500 to everything for a while, then the first failures use an attempt, the rest none, and every push is sent once after", async () => {
    const users = await pendingPushes("android");
    ctx.fakes.fcm.failNext(1_000, "INTERNAL");

    const { whileDown, recovered } = await downThenRecovered(users, () => {
      ctx.fakes.fcm.recover();
    });

    for (const rows of whileDown) {
      expect(rows.map((r) => r.status)).toEqual(Array(USERS).fill("pending"));
      expect(Math.max(...rows.map((r) => r.attempts))).toBeLessThanOrEqual(1);
    }
    expect(recovered.map((r) => r.status)).toEqual(Array(USERS).fill("sent"));
    sentOnce(
      ctx.fakes.fcm.received.map((m) => m.message.token as string),
      users,
    );
  });

  it("when FCM answers 429 with Retry-After to everything, then the pushes wait at least that long, none fails, and each is sent once after", async () => {
    const users = await pendingPushes("android");
    ctx.fakes.fcm.failNext(1_000, "QUOTA_EXCEEDED", "120");
    await ctx.deliver();
    const waiting = await notificationsOf(users);
    expect(waiting.map((r) => r.status)).toEqual(Array(USERS).fill("pending"));
    for (const row of waiting)
      expect(row.send_at.getTime()).toBeGreaterThanOrEqual(
        NOON.getTime() + 120_000,
      );

    const { whileDown, recovered } = await downThenRecovered(users, () => {
      ctx.fakes.fcm.recover();
    });
    for (const rows of whileDown)
      expect(Math.max(...rows.map((r) => r.attempts))).toBeLessThanOrEqual(1);
    expect(recovered.map((r) => r.status)).toEqual(Array(USERS).fill("sent"));
    sentOnce(
      ctx.fakes.fcm.received.map((m) => m.message.token as string),
      users,
    );
  });

  it("when FCM resets every connection for a while, then no push fails for it, and each is sent once after", async () => {
    const users = await pendingPushes("android");
    ctx.fakes.fcm.failNext(1_000, "destroy");

    const { whileDown, recovered } = await downThenRecovered(users, () => {
      ctx.fakes.fcm.recover();
    });

    for (const rows of whileDown) {
      expect(rows.map((r) => r.status)).toEqual(Array(USERS).fill("pending"));
      expect(rows.map((r) => r.attempts)).toEqual(Array(USERS).fill(0));
    }
    expect(recovered.map((r) => r.status)).toEqual(Array(USERS).fill("sent"));
    sentOnce(
      ctx.fakes.fcm.received.map((m) => m.message.token as string),
      users,
    );
  });

  it("when Apple refuses the provider token, then the pushes wait, an error says what to fix, and they are sent once it is fixed", async () => {
    const users = await pendingPushes("ios");
    ctx.fakes.apns.answerNext(1_000, {
      status: 403,
      reason: "InvalidProviderToken",
    });

    const { whileDown, recovered } = await downThenRecovered(users, () => {
      ctx.fakes.apns.recover();
    });

    expect(whileDown.at(-1)?.map((r) => [r.status, r.attempts])).toEqual(
      Array(USERS).fill(["pending", 0]),
    );
    const errors = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.level === 50);
    expect(errors).toContainEqual(
      expect.objectContaining({
        msg: "provider refused the credentials: its pushes wait until they are fixed",
        provider: "apns",
        reason: expect.stringContaining(
          "check the .p8 key, its key id and the team id",
        ),
      }),
    );
    expect(recovered.map((r) => r.status)).toEqual(Array(USERS).fill("sent"));
  });
});
