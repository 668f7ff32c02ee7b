import { describe, expect, it } from "vitest";
import {
  expandNextPage,
  PAGE_SIZE,
} from "../../src/planning/planner.service.ts";
import { createPlanner } from "../../src/planning/planner.worker.ts";
import { lookupsWithout } from "../../src/planning/lookups.ts";
import { createHeldMatches } from "../../src/planning/held-matches.ts";
import { assignVariant } from "../../src/rules/variant.ts";
import { useTestApp } from "../support/test-app.ts";
import { apnsToken, fcmToken, uniqueId } from "../support/test-database.ts";

const ctx = useTestApp();

/** Noon UTC: outside the 21:00–08:00 quiet hours in Berlin and New York, inside them in Tokyo. */
const NOON = new Date("2026-07-01T12:00:00Z");

async function send(...events: Record<string, unknown>[]) {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: events.map((event) => ({ messageId: uniqueId("msg"), ...event })),
  });
  expect(response.status).toBe(200);
  expect(response.body.rejected).toEqual([]);
}

async function plan() {
  await ctx.app.deps.planner.drain();
}

async function notificationsOf(userId: string) {
  return ctx.database.db
    .selectFrom("notifications")
    .selectAll()
    .where("user_id", "=", userId)
    .orderBy("created_at")
    .execute();
}

function shopper(
  userId: string,
  options: {
    device?: "ios" | "android";
    locale?: string;
    timezone?: string;
    traits?: Record<string, unknown>;
  } = {},
) {
  return {
    type: "identify",
    userId,
    traits: options.traits ?? {},
    context: {
      locale: options.locale ?? "en-US",
      timezone: options.timezone ?? "Europe/Berlin",
      ...(options.device === undefined
        ? {}
        : {
            device: {
              type: options.device,
              token: options.device === "ios" ? apnsToken() : fcmToken(),
            },
          }),
    },
  };
}

const wish = (userId: string, productId: string) => ({
  type: "track",
  userId,
  event: "Product Added to Wishlist",
  properties: { product_id: productId, name: "Lamp" },
});

const onSale = (productId: string) => ({
  type: "track",
  userId: uniqueId("merchant"),
  event: "Product Updated",
  properties: {
    product_id: productId,
    on_sale: true,
    name: "Lamp",
    price: 19.99,
    image_url: "https://img.example/lamp.jpg",
  },
});

const SALE_VARIANTS = [
  { id: "a", weight: 50 },
  { id: "b", weight: 50 },
];

/** The arm wishlist-on-sale (50/50, 5% holdout) puts a user in. */
function saleArm(userId: string): string | undefined {
  return assignVariant("wishlist-on-sale", userId, SALE_VARIANTS, 0.05);
}

/** A fresh user id whose arm is (or, with `held: false`, is not) the holdout. */
function userInArm(prefix: string, held: boolean): string {
  for (;;) {
    const id = uniqueId(prefix);
    if ((saleArm(id) === "holdout") === held) return id;
  }
}

const heldOutUserId = () => userInArm("held", true);
const notHeldOut = (prefix: string) => userInArm(prefix, false);

describe("wishlist-on-sale", () => {
  it("when a saved product goes on sale, then each saver gets a notification or a recorded reason", async () => {
    ctx.app.setNow(NOON);
    const product = uniqueId("product");
    const german = notHeldOut("ada");
    const american = notHeldOut("bob");
    const tokyo = notHeldOut("kei");
    const deviceless = notHeldOut("cy");
    const optedOut = notHeldOut("dee");
    const heldOut = heldOutUserId();
    await send(
      shopper(german, {
        device: "ios",
        locale: "de-AT",
        traits: { first_name: "Ada" },
      }),
      shopper(american, { device: "android", timezone: "America/New_York" }),
      shopper(tokyo, { device: "android", timezone: "Asia/Tokyo" }),
      shopper(deviceless),
      shopper(optedOut, {
        device: "ios",
        traits: { promotions_opt_in: false },
      }),
      shopper(heldOut, { device: "ios" }),
      ...[german, american, tokyo, deviceless, optedOut, heldOut].map((id) =>
        wish(id, product),
      ),
      wish(notHeldOut("other"), uniqueId("other-product")),
    );
    await send(onSale(product));
    await plan();

    const [ada] = await notificationsOf(german);
    expect(ada).toMatchObject({
      status: "pending",
      rule_id: "wishlist-on-sale",
      item_key: product,
      category: "promotions",
      variant: saleArm(german),
      deferred_by: null,
    });
    expect(ada?.send_at).toEqual(NOON);
    expect(ada?.expires_at).toEqual(new Date(NOON.getTime() + 12 * 3_600_000));
    expect(ada?.content).toMatchObject({
      title: "Lamp ist reduziert",
      body: "Hallo Ada, jetzt 19.99",
      deepLink: `shop://product/${product}`,
      image: "https://img.example/lamp.jpg",
      locale: "de",
    });

    const [bob] = await notificationsOf(american);
    expect(bob?.status).toBe("pending");
    expect((bob?.content as { body: string }).body).toBe("Hi there, now 19.99");
    expect((bob?.content as { title: string }).title).toMatch(
      /^(Lamp is on sale|Price drop: Lamp)$/,
    );

    const [kei] = await notificationsOf(tokyo);
    expect(kei).toMatchObject({
      status: "pending",
      deferred_by: "quiet_hours",
    });
    // 21:00 in Tokyo (UTC+9): held until 08:00 the next morning, 23:00 UTC.
    expect(kei?.send_at).toEqual(new Date("2026-07-01T23:00:00Z"));

    expect((await notificationsOf(deviceless))[0]).toMatchObject({
      status: "suppressed",
      reason: "no_device",
    });
    expect((await notificationsOf(optedOut))[0]).toMatchObject({
      status: "suppressed",
      reason: "category_opted_out",
    });
    expect((await notificationsOf(heldOut))[0]).toMatchObject({
      status: "suppressed",
      reason: "holdout",
      variant: "holdout",
    });
  });

  it("when the same product goes on sale again within a day, then savers are not notified twice", async () => {
    ctx.app.setNow(NOON);
    const product = uniqueId("product");
    const userId = notHeldOut("eve");
    await send(shopper(userId, { device: "ios" }), wish(userId, product));
    await send(onSale(product));
    await send(onSale(product));
    await plan();
    const rows = await notificationsOf(userId);
    expect(rows.map((r) => [r.status, r.reason])).toEqual([
      ["pending", null],
      ["suppressed", "duplicate"],
    ]);
  });

  it("when a user already got three pushes today, then the frequency cap stops the fourth", async () => {
    ctx.app.setNow(NOON);
    const userId = notHeldOut("fay");
    const products = [
      uniqueId("p"),
      uniqueId("p"),
      uniqueId("p"),
      uniqueId("p"),
    ];
    await send(
      shopper(userId, { device: "android" }),
      ...products.map((p) => wish(userId, p)),
    );
    for (const product of products) {
      await send(onSale(product));
      await plan();
    }
    const rows = await notificationsOf(userId);
    expect(rows.map((r) => r.reason)).toEqual([
      null,
      null,
      null,
      "frequency_cap",
    ]);
  });
});

describe("cart-abandoned", () => {
  const added = (userId: string) => ({
    type: "track",
    userId,
    event: "Product Added",
    properties: { name: "Desk Lamp", product_id: uniqueId("p") },
  });
  const ordered = (userId: string) => ({
    type: "track",
    userId,
    event: "Order Completed",
    properties: {},
  });

  it("when a product is added to the cart, then a reminder is scheduled an hour later", async () => {
    ctx.app.setNow(NOON);
    const userId = uniqueId("cart");
    await send(shopper(userId, { device: "ios" }), added(userId));
    await plan();
    const [row] = await notificationsOf(userId);
    expect(row).toMatchObject({
      status: "pending",
      deferred_by: "delay",
      rule_id: "cart-abandoned",
    });
    expect(row?.send_at).toEqual(new Date(NOON.getTime() + 3_600_000));
    expect(row?.content).toMatchObject({
      title: "Still thinking about it?",
      body: "Desk Lamp is waiting in your cart",
      deepLink: "shop://cart",
    });
    const profile = await ctx.app.request("GET", `/v1/users/${userId}`, {
      admin: true,
    });
    expect(profile.body.notifications).toEqual([
      expect.objectContaining({
        ruleId: "cart-abandoned",
        status: "pending",
        deferredBy: ["delay"],
        sendAt: new Date(NOON.getTime() + 3_600_000).toISOString(),
      }),
    ]);
  });

  it("when the order is completed before the reminder is sent, then the reminder is cancelled", async () => {
    ctx.app.setNow(NOON);
    const userId = uniqueId("cart");
    const stays = uniqueId("cart");
    await send(
      shopper(userId, { device: "ios" }),
      shopper(stays, { device: "ios" }),
      added(userId),
      added(stays),
    );
    await plan();
    await send(ordered(userId));
    expect((await notificationsOf(userId))[0]).toMatchObject({
      status: "cancelled",
    });
    expect((await notificationsOf(userId))[0]?.reason).toMatch(
      /^cancelled_by:/,
    );
    expect((await notificationsOf(stays))[0]).toMatchObject({
      status: "pending",
    });
  });

  it("when the order follows the cart in the same batch, then no reminder is planned at all", async () => {
    ctx.app.setNow(NOON);
    const userId = uniqueId("cart");
    await send(
      shopper(userId, { device: "ios" }),
      added(userId),
      ordered(userId),
    );
    await plan();
    expect(await notificationsOf(userId)).toEqual([]);
  });

  it("when many shoppers fill carts at once, then each gets exactly one reminder", async () => {
    ctx.app.setNow(NOON);
    const users = Array.from({ length: 450 }, () => uniqueId("cart"));
    await send(...users.map((id) => shopper(id, { device: "android" })));
    await send(...users.map(added));
    await plan();
    const rows = await ctx.database.db
      .selectFrom("notifications")
      .select(["user_id", "status"])
      .where("user_id", "in", users)
      .execute();
    expect(rows).toHaveLength(users.length);
    expect(new Set(rows.map((r) => r.user_id)).size).toBe(users.length);
    expect(rows.every((r) => r.status === "pending")).toBe(true);
  });

  it("when one shopper adds more products at once than the daily cap allows, then the cap holds: each is planned knowing the ones before", async () => {
    ctx.app.setNow(NOON);
    const userId = uniqueId("cart");
    await send(shopper(userId, { device: "ios" }));
    await send(added(userId), added(userId), added(userId), added(userId));
    await plan();
    const statuses = (await notificationsOf(userId)).map((n) =>
      n.status === "suppressed" ? n.reason : n.status,
    );
    // settings.frequencyCap: 3 a day.
    expect(statuses.sort()).toEqual([
      "frequency_cap",
      "pending",
      "pending",
      "pending",
    ]);
  });

  it("when the order came before the cart, then the reminder still stands", async () => {
    ctx.app.setNow(NOON);
    const userId = uniqueId("cart");
    await send(
      shopper(userId, { device: "ios" }),
      ordered(userId),
      added(userId),
    );
    await plan();
    expect((await notificationsOf(userId))[0]).toMatchObject({
      status: "pending",
    });
  });
});

describe("expansion", () => {
  it("when planning stops after a page (a crash) and starts again, then it resumes where it stopped", async () => {
    ctx.app.setNow(NOON);
    const product = uniqueId("product");
    const users = Array.from({ length: 2_500 }, () => uniqueId("resume"));
    for (let i = 0; i < users.length; i += 500) {
      await send(...users.slice(i, i + 500).map((id) => wish(id, product)));
    }
    await send(onSale(product));
    const planned = () =>
      ctx.database.db
        .selectFrom("notifications")
        .select((eb) => eb.fn.countAll<string | number>().as("count"))
        .where("item_key", "=", product)
        .executeTakeFirstOrThrow();

    // One page, then the process "dies": nothing of it is kept in memory.
    const resolveZone = (zone: string | null) => zone ?? "UTC";
    // The savers have no device: everything planned is suppressed, nothing is due.
    const held = createHeldMatches({ ...ctx.app.deps, leaseMs: 60_000 });
    expect(
      await expandNextPage(ctx.app.deps, lookupsWithout(resolveZone), held),
    ).toEqual({
      planned: true,
      dueNow: false,
      // The rest of the audience waits for the next step.
      more: true,
    });
    expect(Number((await planned()).count)).toBe(PAGE_SIZE);

    await createPlanner(ctx.app.deps).drain();
    const rows = await ctx.database.db
      .selectFrom("notifications")
      .select("user_id")
      .where("item_key", "=", product)
      .execute();
    expect(rows).toHaveLength(users.length);
    expect(new Set(rows.map((r) => r.user_id))).toEqual(new Set(users));
  });

  it("when an audience spans several pages and planning runs twice, then everyone is planned exactly once", async () => {
    ctx.app.setNow(NOON);
    const product = uniqueId("product");
    const users = Array.from({ length: 1_234 }, () => uniqueId("many"));
    for (let i = 0; i < users.length; i += 400) {
      await send(...users.slice(i, i + 400).map((id) => wish(id, product)));
    }
    await send(onSale(product));
    // Two planners, as two processes would run them.
    const other = createPlanner(ctx.app.deps);
    await Promise.all([plan(), other.drain()]);
    const rows = await ctx.database.db
      .selectFrom("notifications")
      .select(["user_id"])
      .where("item_key", "=", product)
      .execute();
    expect(rows).toHaveLength(users.length);
    expect(new Set(rows.map((r) => r.user_id)).size).toBe(users.length);
  });
});
