import { describe, expect, it } from "vitest";
import { uniqueId } from "../support/test-database.ts";
import { useDeliveryApp } from "../delivery/delivery-fixture.ts";

const ctx = useDeliveryApp();

const NOON = new Date("2026-07-01T12:00:00Z");

/** The value of one series of GET /metrics, e.g. `nudge_sends_total{provider="apns",outcome="sent"}`. */
async function metric(series: string): Promise<number> {
  const response = await fetch(`${ctx.app.baseUrl}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  const text = await response.text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe("GET /metrics", () => {
  it("when calls are ingested, then they are counted by API and result, and timed", async () => {
    const series = (result: string) =>
      `nudge_ingested_calls_total{api="webhook",result="${result}"}`;
    const accepted = await metric(series("accepted"));
    const duplicate = await metric(series("duplicate"));
    const rejected = await metric(series("rejected"));
    const messageId = uniqueId("msg");
    const event = { type: "track", userId: "ada", event: "Viewed", messageId };
    await ctx.app.request("POST", "/v1/segment", {
      body: [event, event, { type: "track" }],
    });
    expect(await metric(series("accepted"))).toBe(accepted + 1);
    expect(await metric(series("duplicate"))).toBe(duplicate + 1);
    expect(await metric(series("rejected"))).toBe(rejected + 1);
    expect(
      await metric('nudge_ingest_duration_seconds_count{api="webhook"}'),
    ).toBeGreaterThan(0);
  });

  it("when pushes are sent, then each is counted by provider and outcome", async () => {
    ctx.app.setNow(NOON);
    const sent = 'nudge_sends_total{provider="apns",outcome="sent"}';
    const retried = 'nudge_sends_total{provider="fcm",outcome="retry"}';
    const [sentBefore, retriedBefore] = [
      await metric(sent),
      await metric(retried),
    ];
    const { userId } = await ctx.userWith("ios", "android");
    await ctx.ping(userId);
    ctx.fakes.fcm.failNext(1, "UNAVAILABLE");
    await ctx.deliver();
    expect(await metric(sent)).toBe(sentBefore + 1);
    expect(await metric(retried)).toBe(retriedBefore + 1);
    expect(await metric('nudge_provider_queue_depth{provider="apns"}')).toBe(0);
  });

  it("when work waits, then the backlogs and their age show it", async () => {
    ctx.app.setNow(NOON);
    const { userId } = await ctx.userWith("ios");
    await ctx.app.request("POST", "/v1/segment", {
      body: { type: "track", event: "Ping", userId, messageId: uniqueId("m") },
    });
    // Recorded, not planned yet: the planner's lag.
    ctx.app.setNow(new Date(NOON.getTime() + 30_000));
    expect(await metric("nudge_planner_pending_matches")).toBeGreaterThan(0);
    expect(await metric("nudge_planner_lag_seconds")).toBeGreaterThanOrEqual(
      30,
    );
    // Planned and due, not sent yet: the delivery backlog.
    await ctx.app.deps.planner.drain();
    ctx.app.setNow(new Date(NOON.getTime() + 90_000));
    expect(await metric("nudge_delivery_due")).toBeGreaterThan(0);
    expect(
      await metric("nudge_delivery_due_age_seconds"),
    ).toBeGreaterThanOrEqual(60);
    await ctx.deliver();
    expect(await metric("nudge_delivery_due")).toBe(0);
    expect(await metric("nudge_planner_pending_matches")).toBe(0);
  });
});
