import { describe, expect, it } from "vitest";
import { useTestApp } from "../support/test-app.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";

const settings = { quietHours: { start: "21:00", end: "08:00" } };
const message = { title: "Hi", body: "There" };
const rules = {
  settings,
  rules: [
    {
      id: "reminder",
      trigger: 'event = "Cart"',
      delivery: { delay: "1h", quietHours: false },
      message,
    },
    { id: "nightly", trigger: 'event = "Night"', message },
    {
      id: "windowed",
      trigger: 'event = "Digest"',
      delivery: { quietHours: false, window: { start: "18:00", end: "20:00" } },
      message,
    },
  ],
};

const ctx = useTestApp({ rules });

async function trigger(event: string, count: number) {
  const users = Array.from({ length: count }, () => uniqueId("user"));
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: users.flatMap((userId) => [
      {
        type: "identify",
        userId,
        messageId: uniqueId("m"),
        context: { device: { type: "ios", token: apnsToken() } },
      },
      { type: "track", event, userId, messageId: uniqueId("m") },
    ]),
  });
  expect(response.body.rejected).toEqual([]);
  await ctx.app.deps.planner.drain();
}

async function waiting(query = "") {
  const response = await ctx.app.request(
    "GET",
    `/v1/notifications/waiting${query}`,
    { admin: true },
  );
  expect(response.status).toBe(200);
  return response.body;
}

describe("GET /v1/notifications/waiting", () => {
  it("when pushes wait for a delay, quiet hours and a window, then each rule's are counted by what holds them, with when they are due", async () => {
    // 22:00 UTC: in quiet hours, before the window of 18:00 the next day.
    const now = new Date("2032-05-04T22:00:00Z");
    ctx.app.setNow(now);
    await trigger("Cart", 2);
    await trigger("Night", 1);
    await trigger("Digest", 3);

    const body = await waiting();
    expect(body.now).toBe(now.toISOString());
    const mine = body.waiting.filter((w: { ruleId: string }) =>
      ["reminder", "nightly", "windowed"].includes(w.ruleId),
    );
    expect(mine).toEqual([
      {
        ruleId: "nightly",
        deferredBy: ["quiet_hours"],
        retrying: false,
        count: 1,
        nextDueAt: "2032-05-05T08:00:00.000Z",
        lastDueAt: "2032-05-05T08:00:00.000Z",
      },
      {
        ruleId: "reminder",
        deferredBy: ["delay"],
        retrying: false,
        count: 2,
        nextDueAt: "2032-05-04T23:00:00.000Z",
        lastDueAt: "2032-05-04T23:00:00.000Z",
      },
      {
        ruleId: "windowed",
        deferredBy: ["window"],
        retrying: false,
        count: 3,
        nextDueAt: "2032-05-05T18:00:00.000Z",
        lastDueAt: "2032-05-05T18:00:00.000Z",
      },
    ]);

    const one = await waiting("?ruleId=reminder");
    expect(one.waiting.map((w: { ruleId: string }) => w.ruleId)).toEqual([
      "reminder",
    ]);
  });

  it("when the pushes were sent, then nothing of theirs waits", async () => {
    ctx.app.setNow(new Date("2032-05-04T12:00:00Z"));
    const ruleId = "reminder";
    const before = await waiting(`?ruleId=${ruleId}`);
    await trigger("Cart", 1);
    ctx.app.setNow(new Date("2032-05-04T13:30:00Z"));
    await ctx.app.deps.delivery.drain();
    const after = await waiting(`?ruleId=${ruleId}`);
    const total = (body: { waiting: { count: number }[] }) =>
      body.waiting.reduce((sum, w) => sum + w.count, 0);
    expect(total(after)).toBe(total(before));
  });
});
