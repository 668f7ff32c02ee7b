import { describe, expect, it } from "vitest";
import { postIphoneUsers, useDeliveryApp } from "./delivery-fixture.ts";

// A narrow APNs lane, so that most pushes are still queued when the worker stops.
const ctx = useDeliveryApp({
  env: { APNS_CONCURRENCY: "2", DELIVERY_BATCH_SIZE: "50" },
});

describe("delivery: shutdown", () => {
  it("when the worker stops mid-fan-out, then sends in flight finish, the rest are given back untouched, and a restart sends them once", async () => {
    const users = await postIphoneUsers(ctx.app, 300, () => ({
      type: "track",
      event: "Ping",
      properties: { title: "Ping", n: 1 },
    }));
    await ctx.app.deps.planner.drain();

    const { delivery } = ctx.app.deps;
    const received = () => ctx.fakes.apns.received.length;
    delivery.start();
    await ctx.fakes.apns.waitForPushes(20);
    await delivery.stop();

    const rows = await ctx.database.db
      .selectFrom("notifications")
      .select(["status", "attempts", "claimed_until"])
      .where(
        "user_id",
        "in",
        users.map((u) => u.userId),
      )
      .execute();
    const sent = rows.filter((r) => r.status === "sent");
    const given = rows.filter((r) => r.status === "pending");
    expect(sent.length + given.length).toBe(users.length);
    expect(sent).toHaveLength(received());
    expect(given.length).toBeGreaterThan(0);
    // Given back as if never claimed: no attempt used, no claim left behind.
    expect(
      given.every((r) => r.attempts === 0 && r.claimed_until === null),
    ).toBe(true);

    await delivery.drain();
    const tokens = ctx.fakes.apns.received.map((p) => p.token);
    expect(tokens).toHaveLength(users.length);
    expect(new Set(tokens)).toEqual(new Set(users.map((u) => u.token)));
  });
});
