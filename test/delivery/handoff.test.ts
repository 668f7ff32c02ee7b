import { describe, expect, it, vi } from "vitest";
import type {
  HandedNotification,
  Handoff,
  InFlight,
} from "../../src/delivery/handoff.ts";
import { createPlanner } from "../../src/planning/planner.worker.ts";
import { uniqueId } from "../support/test-database.ts";
import {
  postIphoneUsers,
  saleRule,
  useDeliveryApp,
  wishlist,
} from "./delivery-fixture.ts";

/** A sale for the savers of a product: a fan-out, planned page by page. */
const saleRules = {
  settings: {
    categories: { news: { default: "in" } },
    frequencyCap: { max: 1, per: "1d" },
  },
  collections: [wishlist],
  rules: [
    saleRule,
    {
      // Set off by a sale that asks for a reminder too: the daily cap of one leaves
      // it nobody.
      id: "sale-reminder",
      trigger: 'event = "Product Updated" and properties.reminder = true',
      audience: { collection: "wishlist", key: "properties.product_id" },
      category: "news",
      delivery: { quietHours: false, ttl: "1h" },
      message: { title: "Still on sale", body: "Boots" },
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

async function putOnSale(productId: string, extra: object = {}) {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: {
      type: "track",
      event: "Product Updated",
      userId: "merchandiser",
      messageId: uniqueId("msg"),
      properties: {
        product_id: productId,
        name: "Boots",
        on_sale: true,
        ...extra,
      },
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

/** How many pages `owner` has recorded as handed over and not yet written. */
async function handedPagesOf(owner: string): Promise<number> {
  const rows = await ctx.database.db
    .selectFrom("handed_pages")
    .select("page_id")
    .where("owner", "=", owner)
    .execute();
  return rows.length;
}

async function matchOf(productId: string) {
  return ctx.database.db
    .selectFrom("rule_matches")
    .select(["status", "planned", "claimed_by"])
    .where("item_key", "=", productId)
    .executeTakeFirst();
}

/**
 * A delivery that takes what the planner hands over and keeps it for the test: room
 * for what `fits` allows, each page answered with `written`.
 */
function capturingHandoff(
  options: { fits?: () => boolean; written?: Promise<boolean> } = {},
) {
  const taken: HandedNotification[] = [];
  const fits = options.fits ?? (() => true);
  const handoff: Handoff = {
    owner: uniqueId("process"),
    budget: () => () => fits(),
    whenRoom: () => Promise.resolve(),
    take: (handed) => {
      taken.push(...handed);
      return options.written ?? Promise.resolve(true);
    },
    inFlight: () => [],
  };
  return { handoff, taken };
}

describe("delivery: handoff from planning", () => {
  it("when delivery has room for part of a page, then that part is handed over unwritten with its devices, the rest is written to wait, and the match waits for the part's outcomes", async () => {
    const { users, productId } = await savers(40);
    const written = Promise.withResolvers<boolean>();
    let fitted = 0;
    const { handoff, taken } = capturingHandoff({
      fits: () => fitted++ < 15,
      written: written.promise,
    });
    await putOnSale(productId);
    const planner = createPlanner({ ...ctx.app.deps, handoff });
    const drained = planner.drain();
    await vi.waitFor(() => {
      expect(taken).toHaveLength(15);
    });

    // Nothing handed over has a row; the rest wait for a claim.
    const rows = await notificationsOf(users);
    expect(rows).toHaveLength(25);
    expect(rows.every((r) => r.status === "pending" && r.attempts === 0)).toBe(
      true,
    );
    const handedUsers = new Set(taken.map((h) => h.notification.userId));
    expect(rows.some((r) => handedUsers.has(r.user_id))).toBe(false);
    // The match stays pending, held, until the handed-over part is written.
    expect(await matchOf(productId)).toMatchObject({ status: "pending" });

    // Each handed-over notification comes with the content and the device to send to.
    const tokenOf = new Map(users.map((u) => [u.userId, u.token]));
    for (const { notification, context } of taken) {
      expect(notification.content).toMatchObject({
        title: "Boots is on sale",
        body: "Hi Ana",
      });
      expect(context.devices.map((d) => d.token)).toEqual([
        tokenOf.get(notification.userId),
      ]);
    }

    written.resolve(true);
    await drained;
    expect(await matchOf(productId)).toMatchObject({
      status: "expanded",
      planned: 40,
      claimed_by: null,
    });
  });

  it("when handed-over notifications are sent, then each is written once, with its outcome", async () => {
    const { users, productId } = await savers(30);
    const { handoff, taken } = capturingHandoff();
    await putOnSale(productId);
    await createPlanner({ ...ctx.app.deps, handoff }).drain();
    expect(taken).toHaveLength(30);
    expect(await notificationsOf(users)).toHaveLength(0);

    // Given to the worker, they are sent once and written once, as sent.
    const { delivery } = ctx.app.deps;
    expect(await delivery.take(taken)).toBe(true);
    const mine = new Set(users.map((u) => u.token));
    const tokens = ctx.fakes.apns.received
      .map((p) => p.token)
      .filter((t) => mine.has(t));
    expect(tokens.sort()).toEqual([...mine].sort());
    const settled = await notificationsOf(users);
    expect(settled).toHaveLength(30);
    expect(
      settled.every(
        (r) =>
          r.status === "sent" && r.attempts === 1 && r.claimed_until === null,
      ),
    ).toBe(true);
    // Each went to its one device at the first attempt: that delivery is kept on the
    // notification, not in a row of its own, and the history tells it all the same.
    const rows = await ctx.database.db
      .selectFrom("deliveries")
      .select("notification_id")
      .where(
        "notification_id",
        "in",
        taken.map((h) => h.notification.notificationId),
      )
      .execute();
    expect(rows).toEqual([]);
    const [user] = users;
    const history = await ctx.app.request(
      "GET",
      `/v1/notifications?userId=${user?.userId ?? ""}`,
      { admin: true },
    );
    const device = taken.find((h) => h.notification.userId === user?.userId)
      ?.context.devices[0];
    expect(history.body.notifications).toEqual([
      expect.objectContaining({
        status: "sent",
        deliveries: [
          {
            deviceId: device?.deviceId,
            platform: "apns",
            provider: "apns",
            status: "sent",
            reason: null,
            attempts: 1,
            updatedAt: expect.any(String),
          },
        ],
      }),
    ]);
  });

  it("when the worker runs, then a sale planned meanwhile reaches every saver once", async () => {
    const { users, productId } = await savers(120);
    const { delivery } = ctx.app.deps;
    const before = ctx.fakes.apns.received.length;
    delivery.start();
    try {
      await putOnSale(productId);
      await ctx.app.deps.planner.drain();
      const mine = new Set(users.map((u) => u.token));
      await vi.waitFor(
        () => {
          const got = ctx.fakes.apns.received.filter((p) => mine.has(p.token));
          expect(got.length).toBeGreaterThanOrEqual(users.length);
        },
        { timeout: 10_000 },
      );
    } finally {
      await delivery.stop();
    }
    // Earlier tests left notifications waiting for a claim: they go too.
    const mine = new Set(users.map((u) => u.token));
    await ctx.app.deps.planner.drain();
    const tokens = ctx.fakes.apns.received
      .slice(before)
      .map((p) => p.token)
      .filter((t) => mine.has(t));
    expect(tokens.sort()).toEqual([...mine].sort());
    const rows = await notificationsOf(users);
    expect(rows.every((r) => r.status === "sent" && r.attempts === 1)).toBe(
      true,
    );
  });

  it("when a second rule fans out to savers whose first push is still in flight, then the cap counts the unwritten push: each saver gets one", async () => {
    const { users, productId } = await savers(20);
    const { delivery } = ctx.app.deps;
    // Delivery as it runs, with the outcomes held back until the gate opens.
    const gate = Promise.withResolvers<undefined>();
    const flying = new Map<string, InFlight[]>();
    let handedOver = 0;
    const handoff: Handoff = {
      ...capturingHandoff().handoff,
      take: async (handed) => {
        handedOver += handed.length;
        for (const { notification } of handed)
          flying.set(notification.userId, [
            ...(flying.get(notification.userId) ?? []),
            { ...notification, uncapped: false },
          ]);
        await gate.promise;
        const written = await delivery.take(handed);
        flying.clear();
        return written;
      },
      inFlight: (userId) => flying.get(userId) ?? [],
    };
    await putOnSale(productId, { reminder: true });
    delivery.start();
    try {
      const drained = createPlanner({ ...ctx.app.deps, handoff }).drain();
      await vi.waitFor(async () => {
        expect(await notificationsOf(users)).toHaveLength(20);
      });
      expect(handedOver).toBe(20);
      const capped = await notificationsOf(users);
      expect(capped.every((r) => r.status === "suppressed")).toBe(true);

      gate.resolve(undefined);
      await drained;
    } finally {
      await delivery.stop();
    }
    const mine = new Set(users.map((u) => u.token));
    const tokens = ctx.fakes.apns.received
      .map((p) => p.token)
      .filter((t) => mine.has(t));
    expect(tokens.sort()).toEqual([...mine].sort());
    const rows = await notificationsOf(users);
    expect(rows.filter((r) => r.status === "sent")).toHaveLength(20);
    expect(rows.filter((r) => r.status === "suppressed")).toHaveLength(20);
  });

  it("when another process has savers' first pushes in flight, then this process's planner counts them: the cap holds across processes, and a page once written is forgotten", async () => {
    const { users, productId } = await savers(20);
    // Process A hands the sale over; its outcomes are not written yet.
    const written = Promise.withResolvers<boolean>();
    const a = capturingHandoff({ written: written.promise });
    await putOnSale(productId);
    const drainedA = createPlanner({
      ...ctx.app.deps,
      handoff: a.handoff,
    }).drain();
    await vi.waitFor(() => {
      expect(a.taken).toHaveLength(20);
    });
    expect(await handedPagesOf(a.handoff.owner)).toBe(1);

    // Process B plans a second sale and its reminder for the same savers meanwhile.
    const b = capturingHandoff();
    await putOnSale(productId, { reminder: true });
    await createPlanner({ ...ctx.app.deps, handoff: b.handoff }).drain();

    expect(b.taken).toEqual([]);
    const rows = await notificationsOf(users);
    expect(rows).toHaveLength(40);
    expect(rows.every((r) => r.status === "suppressed")).toBe(true);
    written.resolve(true);
    await drainedA;
    expect(await handedPagesOf(a.handoff.owner)).toBe(0);
  });

  it("when delivery takes notifications unwritten, then they count as in flight until their outcome is written", async () => {
    const { users, productId } = await savers(3);
    const { handoff, taken } = capturingHandoff();
    await putOnSale(productId);
    await createPlanner({ ...ctx.app.deps, handoff }).drain();
    const { delivery } = ctx.app.deps;
    const sale = taken.filter((h) => h.notification.ruleId === "sale");
    expect(sale).toHaveLength(3);

    const written = delivery.take(sale);
    const [first] = users;
    expect(delivery.inFlight(first?.userId ?? "")).toEqual([
      expect.objectContaining({ ruleId: "sale", itemKey: productId }),
    ]);
    expect(await written).toBe(true);
    expect(delivery.inFlight(first?.userId ?? "")).toEqual([]);
    expect(await notificationsOf(users)).toHaveLength(3);
  });

  it("when a recipient is merged into another or erased while their push is in flight, then its row follows the merge, and the erased user gets none", async () => {
    const { users, productId } = await savers(3);
    const [merged, erased, kept] = users as [
      (typeof users)[number],
      (typeof users)[number],
      (typeof users)[number],
    ];
    const { handoff, taken } = capturingHandoff();
    await putOnSale(productId);
    await createPlanner({ ...ctx.app.deps, handoff }).drain();
    expect(taken).toHaveLength(3);

    // Before the outcomes are written: one saver is merged into a new id, one erased.
    const into = uniqueId("known");
    const alias = await ctx.app.request("POST", "/v1/segment", {
      body: {
        type: "alias",
        userId: into,
        previousId: merged.userId,
        messageId: uniqueId("msg"),
      },
    });
    expect(alias.status).toBe(200);
    const erase = await ctx.app.request(
      "DELETE",
      `/v1/users/${erased.userId}`,
      {
        admin: true,
      },
    );
    expect(erase.status).toBe(204);

    const { delivery } = ctx.app.deps;
    delivery.start();
    try {
      expect(await delivery.take(taken)).toBe(true);
    } finally {
      await delivery.stop();
    }
    const rows = await ctx.database.db
      .selectFrom("notifications")
      .select(["user_id", "status"])
      .where("item_key", "=", productId)
      .execute();
    expect(rows.sort((a, b) => a.user_id.localeCompare(b.user_id))).toEqual(
      [
        { user_id: into, status: "sent" },
        { user_id: kept.userId, status: "sent" },
      ].sort((a, b) => a.user_id.localeCompare(b.user_id)),
    );
    const orphans = await ctx.database.db
      .selectFrom("deliveries")
      .select("notification_id")
      .where("user_id", "in", [merged.userId, erased.userId])
      .execute();
    expect(orphans).toEqual([]);
    const history = await ctx.app.request(
      "GET",
      `/v1/notifications?userId=${into}`,
      { admin: true },
    );
    expect(history.body.notifications).toEqual([
      expect.objectContaining({
        status: "sent",
        deliveries: [expect.objectContaining({ status: "sent" })],
      }),
    ]);
  });
});
