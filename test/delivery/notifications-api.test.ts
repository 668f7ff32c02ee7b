import { describe, expect, it } from "vitest";
import { uniqueId } from "../support/test-database.ts";
import { useDeliveryApp } from "./delivery-fixture.ts";

const ctx = useDeliveryApp();

const NOON = new Date("2026-07-01T12:00:00Z");

const cursorOf = (parts: unknown[]) =>
  Buffer.from(JSON.stringify(parts)).toString("base64url");

async function list(query: string) {
  return ctx.app.request("GET", `/v1/notifications?${query}`, { admin: true });
}

describe("GET /v1/notifications", () => {
  it("when a push is retried, then the notification shows each device's delivery and its history so far", async () => {
    ctx.app.setNow(NOON);
    const { userId } = await ctx.userWith("ios", "android");
    await ctx.ping(userId);
    ctx.fakes.fcm.failNext(1, "UNAVAILABLE");
    await ctx.deliver();

    const waiting = await list(`userId=${userId}`);
    expect(waiting.status).toBe(200);
    const [notification] = waiting.body.notifications;
    expect(notification).toMatchObject({
      userId,
      ruleId: "ping",
      status: "pending",
      attempts: 1,
      deliveries: [
        { platform: "apns", provider: "apns", status: "sent", attempts: 1 },
        { platform: "fcm", provider: "fcm", status: "retry", attempts: 1 },
      ],
    });
    expect(notification.history.map((h: { event: string }) => h.event)).toEqual(
      ["created", "sent", "retrying"],
    );

    ctx.app.setNow(new Date(notification.sendAt));
    await ctx.deliver();
    const done = await list(`userId=${userId}`);
    expect(done.body.notifications[0]).toMatchObject({
      status: "sent",
      attempts: 2,
      sentAt: NOON.toISOString(),
    });
    expect(
      done.body.notifications[0].history.map((h: { event: string }) => h.event),
    ).toEqual(["created", "sent"]);
  });

  it("when there are more notifications than a page, then the cursor walks them all, newest first, once each", async () => {
    const { userId } = await ctx.userWith("ios");
    const created: string[] = [];
    for (let minute = 0; minute < 5; minute++) {
      ctx.app.setNow(new Date(NOON.getTime() + minute * 60_000));
      created.push((await ctx.ping(userId, { n: minute })).notification_id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: any } = await list(
        `userId=${userId}&limit=2${cursor === null ? "" : `&cursor=${cursor}`}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.notifications.length).toBeLessThanOrEqual(2);
      seen.push(
        ...page.body.notifications.map(
          (n: { notificationId: string }) => n.notificationId,
        ),
      );
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual([...created].reverse());
  });

  it("when filtered by rule and status, then only those are listed", async () => {
    ctx.app.setNow(NOON);
    const { userId } = await ctx.userWith("ios");
    await ctx.ping(userId);
    await ctx.deliver();
    const sent = await list(`ruleId=ping&status=sent&limit=500`);
    expect(sent.status).toBe(200);
    expect(
      sent.body.notifications.every(
        (n: { ruleId: string; status: string }) =>
          n.ruleId === "ping" && n.status === "sent",
      ),
    ).toBe(true);
    expect(
      sent.body.notifications.some(
        (n: { userId: string }) => n.userId === userId,
      ),
    ).toBe(true);
    const pending = await list(`userId=${userId}&status=pending`);
    expect(pending.body.notifications).toEqual([]);
  });

  it("when asked by an anonymousId merged into a known user, then the user's notifications are listed", async () => {
    ctx.app.setNow(NOON);
    const { userId } = await ctx.userWith("ios");
    const anonymousId = uniqueId("anon");
    const merged = await ctx.app.request("POST", "/v1/segment", {
      body: {
        type: "alias",
        previousId: anonymousId,
        userId,
        messageId: uniqueId("msg"),
      },
    });
    expect(merged.status).toBe(200);
    const { notification_id } = await ctx.ping(userId);

    const listed = await list(`userId=${anonymousId}`);

    expect(listed.body.notifications).toMatchObject([
      { userId, notificationId: notification_id },
    ]);
  });

  it("when the query is bad, then 400 invalid_query says what to fix", async () => {
    for (const query of [
      "",
      "userId=ada&status=lost",
      "userId=ada&limit=0",
      "userId=ada&cursor=not-a-cursor",
      // Cursors no page gave out: a time PostgreSQL cannot hold, an id with a NUL.
      `ruleId=x&cursor=${cursorOf(["99999-12-04", "a", "b"])}`,
      `ruleId=x&cursor=${cursorOf(["0000-12-04T00:00:00Z", "a", "b"])}`,
      `ruleId=x&cursor=${cursorOf(["2026-12-04T00:00:00Z", "a\u0000", "b"])}`,
    ]) {
      const response = await list(query);
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("invalid_query");
    }
    expect((await list("")).body.error.message).toContain("userId or ruleId");
  });

  it("when the admin token is missing, then 401", async () => {
    const response = await ctx.app.request(
      "GET",
      "/v1/notifications?userId=ada",
    );
    expect(response.status).toBe(401);
  });
});
