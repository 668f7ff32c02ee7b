import { describe, expect, it } from "vitest";
import { useTestApp } from "../support/test-app.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";

const rules = {
  rules: [
    {
      id: "sale",
      trigger: 'event = "Sale"',
      delivery: { quietHours: false },
      message: {
        title: "On sale",
        body: "Now 20% off",
        actions: [
          { id: "buy", title: "Buy", deepLink: "shop://buy" },
          { id: "later", title: "Later" },
        ],
      },
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

/** Users with an iPhone who were each sent one notification of the sale at noon. */
async function sentTo(count: number) {
  ctx.app.setNow(NOON);
  const users = Array.from({ length: count }, () => uniqueId("user"));
  await send(
    ...users.flatMap((userId) => [
      {
        type: "identify",
        userId,
        context: { device: { type: "ios", token: apnsToken() } },
      },
      track(userId, "Sale", NOON),
    ]),
  );
  await ctx.app.deps.planner.drain();
  await ctx.app.deps.delivery.drain();
  const rows = await ctx.database.db
    .selectFrom("notifications")
    .select(["user_id", "notification_id", "status", "content"])
    .where("user_id", "in", users)
    .execute();
  expect(rows.map((r) => r.status)).toEqual(users.map(() => "sent"));
  return users.map((userId) => {
    const row = rows.find((r) => r.user_id === userId);
    return { userId, nudgeId: row?.notification_id, content: row?.content };
  });
}

describe("action taps", () => {
  it("when a message has actions, then they are rendered at planning and stored with the content", async () => {
    const [sent] = await sentTo(1);

    expect(sent?.content).toMatchObject({
      actions: [
        { id: "buy", title: "Buy", deepLink: "shop://buy" },
        { id: "later", title: "Later" },
      ],
    });
  });

  it("when taps name an action_id, then the first tapped button is kept and stats count opens per action", async () => {
    const [a, b, c, d] = await sentTo(4);
    if (
      a === undefined ||
      b === undefined ||
      c === undefined ||
      d === undefined
    )
      throw new Error("four users");
    await send(
      track(a.userId, "Push Notification Tapped", minutes(1), {
        nudge_id: a.nudgeId,
        action_id: "buy",
      }),
      track(a.userId, "Push Notification Tapped", minutes(2), {
        nudge_id: a.nudgeId,
        action_id: "later",
      }),
      track(b.userId, "Push Notification Tapped", minutes(1), {
        nudge_id: b.nudgeId,
        action_id: "buy",
      }),
      track(c.userId, "Push Notification Tapped", minutes(1), {
        nudge_id: c.nudgeId,
        action_id: "later",
      }),
      // A tap on the notification itself opens it and names no action.
      track(d.userId, "Push Notification Tapped", minutes(1), {
        nudge_id: d.nudgeId,
      }),
    );

    const response = await ctx.app.request(
      "GET",
      "/v1/stats?ruleId=sale&from=2026-07-01&to=2026-07-02",
      { admin: true },
    );

    expect(response.status).toBe(200);
    const [all] = response.body.groups;
    expect(all.opened).toBe(4);
    expect(all.actions).toEqual({ buy: 2, later: 1 });
    const byPlatform = await ctx.app.request(
      "GET",
      "/v1/stats?ruleId=sale&from=2026-07-01&to=2026-07-02&groupBy=platform",
      { admin: true },
    );
    expect(byPlatform.body.groups[0]).toMatchObject({
      group: "apns",
      actions: all.actions,
    });
  });
});
