import { describe, expect, it } from "vitest";
import { useTestApp } from "../support/test-app.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";

const message = { title: "Hi", body: "There" };
const rules = {
  rules: [
    {
      id: "ping",
      trigger: 'event = "Ping"',
      delivery: { quietHours: false },
      message,
      conversion: { event: "Order Completed", within: "1h" },
    },
    {
      id: "welcome",
      trigger: 'event = "Signed Up"',
      delivery: { quietHours: false },
      message,
      conversion: { event: "Order Completed", within: "1h", after: "send" },
    },
  ],
};

const ctx = useTestApp({ rules });

const NOON = new Date("2026-07-01T12:00:00Z");
const minutes = (n: number) => new Date(NOON.getTime() + n * 60_000);

async function send(...events: Record<string, unknown>[]) {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: events.map((e) => ({ messageId: uniqueId("msg"), ...e })),
  });
  expect(response.status).toBe(200);
  expect(response.body.rejected).toEqual([]);
}

/** A user with an iPhone who was sent one notification of `trigger` at noon. */
async function sentTo(trigger = "Ping") {
  ctx.app.setNow(NOON);
  const userId = uniqueId("user");
  await send(
    {
      type: "identify",
      userId,
      context: { device: { type: "ios", token: apnsToken() } },
    },
    { type: "track", userId, event: trigger, timestamp: NOON.toISOString() },
  );
  await ctx.app.deps.planner.drain();
  await ctx.app.deps.delivery.drain();
  const row = await notificationOf(userId);
  expect(row.status).toBe("sent");
  return { userId, nudgeId: row.notification_id };
}

function notificationOf(userId: string) {
  return ctx.database.db
    .selectFrom("notifications")
    .selectAll()
    .where("user_id", "=", userId)
    .executeTakeFirstOrThrow();
}

const track = (
  userId: string,
  event: string,
  at: Date,
  properties: Record<string, unknown> = {},
) => ({
  type: "track",
  userId,
  event,
  timestamp: at.toISOString(),
  properties,
});

async function unattributed(event: string): Promise<number> {
  const row = await ctx.database.db
    .selectFrom("unattributed_feedback")
    .select("count")
    .where("event", "=", event)
    .where("day", "=", "2026-07-01")
    .executeTakeFirst();
  return row?.count ?? 0;
}

describe("push feedback", () => {
  it("when a tap names the notification in properties.nudge_id, then it is opened (and so received) at the tap's time", async () => {
    const { userId, nudgeId } = await sentTo();
    await send(
      track(userId, "Push Notification Tapped", minutes(1), {
        nudge_id: nudgeId,
      }),
    );
    expect(await notificationOf(userId)).toMatchObject({
      opened_at: minutes(1),
      received_at: minutes(1),
      bounced_at: null,
    });
    const listed = await ctx.app.request(
      "GET",
      `/v1/notifications?userId=${userId}`,
      { admin: true },
    );
    expect(
      listed.body.notifications[0].history.map(
        (h: { event: string }) => h.event,
      ),
    ).toEqual(["created", "sent", "received", "opened"]);
  });

  it("when the Engage plugin's Push Opened carries the id in properties.campaign, then it counts as opened", async () => {
    const { userId, nudgeId } = await sentTo();
    await send(
      track(userId, "Push Opened", minutes(2), {
        campaign: { nudge_id: nudgeId, name: "ping" },
      }),
    );
    expect((await notificationOf(userId)).opened_at).toEqual(minutes(2));
  });

  it("when a classic SDK forwards the raw push payload as a receipt, then it is received, not opened, and a later receipt changes nothing", async () => {
    const { userId, nudgeId } = await sentTo();
    const payload = { aps: { alert: message }, nudge_id: nudgeId };
    await send(
      track(userId, "Push Notification Received", minutes(1), payload),
    );
    await send(
      track(userId, "Push Notification Received", minutes(5), payload),
    );
    expect(await notificationOf(userId)).toMatchObject({
      received_at: minutes(1),
      opened_at: null,
    });
  });

  it("when a push bounces, then the bounce is recorded", async () => {
    const { userId, nudgeId } = await sentTo();
    await send(
      track(userId, "Push Notification Bounced", minutes(1), {
        nudge_id: nudgeId,
      }),
    );
    expect((await notificationOf(userId)).bounced_at).toEqual(minutes(1));
  });

  it("when feedback names no notification, or one Nudge does not know, then it is counted as unattributed, not lost", async () => {
    const before = await unattributed("Push Notification Tapped");
    const userId = uniqueId("user");
    await send(
      track(userId, "Push Notification Tapped", NOON),
      track(userId, "Push Notification Tapped", NOON, {
        nudge_id: "no-such-notification",
      }),
    );
    expect(await unattributed("Push Notification Tapped")).toBe(before + 2);
  });
});

describe("conversions", () => {
  it("when the user orders within the window after opening, then the notification converts, once", async () => {
    const { userId, nudgeId } = await sentTo();
    const first = uniqueId("order");
    await send(
      track(userId, "Push Notification Tapped", minutes(1), {
        nudge_id: nudgeId,
      }),
      { ...track(userId, "Order Completed", minutes(10)), messageId: first },
    );
    await send(track(userId, "Order Completed", minutes(20)));
    expect(await notificationOf(userId)).toMatchObject({
      converted_at: minutes(10),
      conversion_message_id: first,
    });
  });

  it("when one batch carries the orders of several users, two of them from one user, then each opened notification converts once, on its user's first order", async () => {
    const users = [await sentTo(), await sentTo(), await sentTo()];
    const [twice, once, unopened] = users as [
      (typeof users)[number],
      (typeof users)[number],
      (typeof users)[number],
    ];
    const firstOrder = uniqueId("order");
    await send(
      ...[twice, once].map((u) =>
        track(u.userId, "Push Notification Tapped", minutes(1), {
          nudge_id: u.nudgeId,
        }),
      ),
      {
        ...track(twice.userId, "Order Completed", minutes(5)),
        messageId: firstOrder,
      },
      track(once.userId, "Order Completed", minutes(6)),
      track(twice.userId, "Order Completed", minutes(7)),
      track(unopened.userId, "Order Completed", minutes(8)),
    );
    expect(await notificationOf(twice.userId)).toMatchObject({
      converted_at: minutes(5),
      conversion_message_id: firstOrder,
    });
    expect((await notificationOf(once.userId)).converted_at).toEqual(
      minutes(6),
    );
    expect((await notificationOf(unopened.userId)).converted_at).toBeNull();
  });

  it("when a user who was sent two notifications of a rule opens both and orders twice in one batch, then the later notification converts on the first order and the earlier one on the second", async () => {
    const { userId, nudgeId: earlier } = await sentTo();
    ctx.app.setNow(minutes(2));
    await send(track(userId, "Ping", minutes(2)));
    await ctx.app.deps.planner.drain();
    await ctx.app.deps.delivery.drain();
    const later = await ctx.database.db
      .selectFrom("notifications")
      .select(["notification_id", "status"])
      .where("user_id", "=", userId)
      .where("notification_id", "<>", earlier)
      .executeTakeFirstOrThrow();
    expect(later.status).toBe("sent");
    const [first, second] = [uniqueId("order"), uniqueId("order")];
    await send(
      track(userId, "Push Notification Tapped", minutes(3), {
        nudge_id: earlier,
      }),
      track(userId, "Push Notification Tapped", minutes(4), {
        nudge_id: later.notification_id,
      }),
      { ...track(userId, "Order Completed", minutes(10)), messageId: first },
      { ...track(userId, "Order Completed", minutes(11)), messageId: second },
    );
    const converted = await ctx.database.db
      .selectFrom("notifications")
      .select(["notification_id", "conversion_message_id"])
      .where("user_id", "=", userId)
      .execute();
    expect(
      Object.fromEntries(
        converted.map((n) => [n.notification_id, n.conversion_message_id]),
      ),
    ).toEqual({ [later.notification_id]: first, [earlier]: second });
  });

  it("when the push was never opened, or the order comes after the window, then nothing converts", async () => {
    const unopened = await sentTo();
    await send(track(unopened.userId, "Order Completed", minutes(10)));
    expect((await notificationOf(unopened.userId)).converted_at).toBeNull();

    const late = await sentTo();
    await send(
      track(late.userId, "Push Notification Tapped", minutes(1), {
        nudge_id: late.nudgeId,
      }),
    );
    await send(track(late.userId, "Order Completed", minutes(62)));
    expect((await notificationOf(late.userId)).converted_at).toBeNull();
  });

  it("when an order carries Go's zero time (year 1), then it counts when it was received, and the batch is stored", async () => {
    const { userId } = await sentTo("Signed Up");
    ctx.app.setNow(minutes(10));

    await send(
      { type: "identify", userId, traits: { plan: "pro" } },
      {
        type: "track",
        userId,
        event: "Order Completed",
        timestamp: "0001-01-01T00:00:00Z",
      },
    );

    const row = await notificationOf(userId);
    expect(row.converted_at).toEqual(minutes(10));
  });

  it("when the rule counts from the send, then an order within the window converts without an open", async () => {
    const { userId } = await sentTo("Signed Up");
    await send(track(userId, "Order Completed", minutes(30)));
    expect((await notificationOf(userId)).converted_at).toEqual(minutes(30));
  });
});
