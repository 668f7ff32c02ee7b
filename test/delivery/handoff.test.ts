import { describe, expect, it } from "vitest";
import type { ClaimedNotification } from "../../src/delivery/outbox.repository.ts";
import type { SendContext } from "../../src/delivery/send-plan.ts";
import type { Handoff } from "../../src/delivery/handoff.ts";
import { createPlanner } from "../../src/planning/planner.worker.ts";
import { uniqueId } from "../support/test-database.ts";
import { postIphoneUsers, useDeliveryApp } from "./delivery-fixture.ts";

/** A sale for the savers of a product: a fan-out, planned page by page. */
const saleRules = {
  settings: { categories: { news: { default: "in" } } },
  collections: [
    {
      name: "wishlist",
      key: "properties.product_id",
      add: 'event = "Product Added to Wishlist"',
    },
  ],
  rules: [
    {
      id: "sale",
      trigger: 'event = "Product Updated" and properties.on_sale = true',
      audience: { collection: "wishlist", key: "properties.product_id" },
      category: "news",
      delivery: { quietHours: false, ttl: "1h" },
      message: {
        title: "{{ event.properties.name }} is on sale",
        body: "Hi {{ profile.traits.first_name | default: 'there' }}",
        deepLink: "shop://product/{{ event.properties.product_id }}",
      },
    },
  ],
};

const ctx = useDeliveryApp({ rules: saleRules });

/** Savers of one new product, each with an iPhone; returns them and the product. */
async function savers(count: number) {
  const productId = uniqueId("product");
  const users = await postIphoneUsers(
    ctx.app,
    count,
    () => ({
      type: "track",
      event: "Product Added to Wishlist",
      properties: { product_id: productId },
    }),
    { first_name: "Ana" },
  );
  return { users, productId };
}

async function putOnSale(productId: string) {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: {
      type: "track",
      event: "Product Updated",
      userId: "merchandiser",
      messageId: uniqueId("msg"),
      properties: { product_id: productId, name: "Boots", on_sale: true },
    },
  });
  expect(response.status).toBe(200);
}

async function notificationsOf(users: readonly { userId: string }[]) {
  return ctx.database.db
    .selectFrom("notifications")
    .select(["user_id", "status", "attempts", "claimed_until"])
    .where(
      "user_id",
      "in",
      users.map((u) => u.userId),
    )
    .execute();
}

describe("delivery: handoff from planning", () => {
  it("when delivery has room for part of a page, then that part is written claimed and handed over with its devices, and the rest waits for a claim", async () => {
    const { users, productId } = await savers(40);
    const taken: { claimed: ClaimedNotification[]; contexts: SendContext[] } = {
      claimed: [],
      contexts: [],
    };
    const leaseEnd = new Date(Date.now() + 60_000);
    let fitted = 0;
    const handoff: Handoff = {
      budget: () => () => fitted++ < 15,
      leaseUntil: () => leaseEnd,
      take: (claimed, contexts) => {
        taken.claimed.push(...claimed);
        taken.contexts.push(...contexts);
      },
    };
    await putOnSale(productId);
    await createPlanner({ ...ctx.app.deps, handoff }).drain();

    expect(taken.claimed).toHaveLength(15);
    const rows = await notificationsOf(users);
    const claimed = rows.filter((r) => r.status === "sending");
    expect(claimed).toHaveLength(15);
    expect(
      claimed.every(
        (r) =>
          r.attempts === 1 &&
          new Date(r.claimed_until ?? 0).getTime() === leaseEnd.getTime(),
      ),
    ).toBe(true);
    expect(new Set(taken.claimed.map((c) => c.userId))).toEqual(
      new Set(claimed.map((r) => r.user_id)),
    );
    const pending = rows.filter((r) => r.status === "pending");
    expect(pending).toHaveLength(25);
    expect(
      pending.every((r) => r.attempts === 0 && r.claimed_until === null),
    ).toBe(true);

    // Each handed-over notification comes with the content and the device to send to.
    const tokenOf = new Map(users.map((u) => [u.userId, u.token]));
    taken.claimed.forEach((notification, index) => {
      expect(notification.content).toMatchObject({
        title: "Boots is on sale",
        body: "Hi Ana",
      });
      expect(taken.contexts[index]?.devices.map((d) => d.token)).toEqual([
        tokenOf.get(notification.userId),
      ]);
    });

    // Given to the worker, they are sent once, like the ones it claims itself.
    const { delivery } = ctx.app.deps;
    delivery.take(taken.claimed, taken.contexts);
    await delivery.drain();
    const mine = new Set(tokenOf.values());
    const tokens = ctx.fakes.apns.received
      .map((p) => p.token)
      .filter((t) => mine.has(t));
    expect(tokens.sort()).toEqual([...mine].sort());
    const settled = await notificationsOf(users);
    expect(settled.every((r) => r.status === "sent" && r.attempts === 1)).toBe(
      true,
    );
  });

  it("when the worker runs, then a sale planned meanwhile reaches every saver once", async () => {
    const { users, productId } = await savers(120);
    const { delivery } = ctx.app.deps;
    const before = ctx.fakes.apns.received.length;
    delivery.start();
    try {
      await putOnSale(productId);
      await ctx.app.deps.planner.drain();
      await ctx.fakes.apns.waitForPushes(before + users.length);
    } finally {
      await delivery.stop();
    }
    const tokens = ctx.fakes.apns.received.slice(before).map((p) => p.token);
    expect(tokens.sort()).toEqual(users.map((u) => u.token).sort());
    const rows = await notificationsOf(users);
    expect(rows.every((r) => r.status === "sent" && r.attempts === 1)).toBe(
      true,
    );
  });
});
