import { describe, expect, it } from "vitest";
import { lookupsWithout } from "../../src/planning/lookups.ts";
import { createHeldMatches } from "../../src/planning/held-matches.ts";
import {
  expandNextPage,
  PAGE_SIZE,
} from "../../src/planning/planner.service.ts";
import { ADMIN_TOKEN, useTestApp } from "../support/test-app.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";

const message = {
  title: "{{ event.properties.name }} is cheaper now",
  body: "Down to {{ event.properties.price }}",
};

const ctx = useTestApp({
  rules: {
    collections: [
      {
        name: "wishlist",
        key: "properties.product_id",
        add: 'event = "Product Added to Wishlist"',
      },
    ],
    rules: [
      {
        id: "price-drop",
        trigger: "manual",
        audience: { collection: "wishlist", key: "properties.product_id" },
        delivery: { quietHours: false },
        message,
      },
      {
        id: "price-drop-tomorrow",
        trigger: "manual",
        audience: { collection: "wishlist", key: "properties.product_id" },
        delivery: { quietHours: false, delay: "1d" },
        message,
      },
      {
        id: "vip-launch",
        trigger: "manual",
        audience: { where: 'traits.tier = "vip"' },
        delivery: { quietHours: false },
        message,
      },
      {
        id: "welcome",
        trigger: 'event = "Signed Up"',
        delivery: { quietHours: false },
        message: { title: "Welcome", body: "Glad you are here" },
      },
      { id: "paused", enabled: false, trigger: "manual", message },
    ],
  },
});

type Fields = Record<string, unknown>;

async function send(...events: Fields[]) {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: events.map((event) => ({ messageId: uniqueId("msg"), ...event })),
  });
  expect(response.body.rejected).toEqual([]);
}

/** `count` users who saved `product`, the first `withDevice` of them with a device. */
async function savers(product: string, count: number, withDevice = count) {
  const users = Array.from({ length: count }, () => uniqueId("saver"));
  for (let i = 0; i < users.length; i += 500)
    await send(
      ...users.slice(i, i + 500).map((userId, j) => ({
        type: "track",
        event: "Product Added to Wishlist",
        userId,
        properties: { product_id: product },
        ...(i + j < withDevice
          ? { context: { device: { type: "ios", token: apnsToken() } } }
          : {}),
      })),
    );
  return users;
}

function priceDropped(product: string, more: Fields = {}): Fields {
  return {
    type: "track",
    event: "Price Dropped",
    messageId: uniqueId("campaign"),
    userId: "merchandising",
    properties: { product_id: product, name: "Lamp", price: "€19" },
    ...more,
  };
}

function trigger(ruleId: string, body: Fields) {
  return ctx.app.request("POST", `/v1/rules/${ruleId}/trigger`, {
    body,
    admin: true,
  });
}

function getMatch(matchId: string) {
  return ctx.app.request("GET", `/v1/matches/${matchId}`, { admin: true });
}

async function notificationsOfMatch(matchId: string) {
  return ctx.database.db
    .selectFrom("notifications")
    .select(["user_id", "status", "reason"])
    .where("match_id", "=", matchId)
    .execute();
}

describe("triggering a rule through the API", () => {
  it("when a manual rule is triggered, then it answers 202 with the match and where to follow it, and its audience is planned", async () => {
    const product = uniqueId("product");
    const users = await savers(product, 3);

    // Fetched here rather than through the app's helper, for the Location header.
    const answer = await fetch(
      `${ctx.app.baseUrl}/v1/rules/price-drop/trigger`,
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ event: priceDropped(product) }),
      },
    );
    const response = {
      status: answer.status,
      body: (await answer.json()) as { matchId: string },
    };

    expect(response.status).toBe(202);
    const { matchId } = response.body;
    expect(response.body).toMatchObject({
      ruleId: "price-drop",
      itemKey: product,
      status: "pending",
      planned: 0,
      replayed: false,
      links: { self: `/v1/matches/${matchId}` },
    });
    expect(answer.headers.get("location")).toBe(`/v1/matches/${matchId}`);

    await ctx.app.deps.planner.drain();
    const followed = await getMatch(matchId);
    expect(followed.body).toMatchObject({
      status: "expanded",
      planned: 3,
      notifications: { pending: 3 },
    });
    const rows = await notificationsOfMatch(matchId);
    expect(rows.map((r) => r.user_id).sort()).toEqual([...users].sort());
  });

  it("when a trigger is retried with the same messageId, at once or later, then every answer is the first match and its audience is planned once", async () => {
    const product = uniqueId("product");
    await savers(product, 2);
    const event = priceDropped(product);

    const racing = await Promise.all([
      trigger("price-drop", { event }),
      trigger("price-drop", { event }),
    ]);
    const later = await trigger("price-drop", {
      event: { ...event, properties: { product_id: product, price: "€9" } },
    });

    const answers = [...racing, later];
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    const [first] = answers;
    expect(new Set(answers.map((a) => a.body.matchId)).size).toBe(1);
    expect(answers.filter((a) => !a.body.replayed)).toHaveLength(1);
    await ctx.app.deps.planner.drain();
    expect(await notificationsOfMatch(first?.body.matchId)).toHaveLength(2);
  });

  it("when a Segment event carries what a manual rule's trigger would, then it does not set the rule off", async () => {
    const product = uniqueId("product");
    await savers(product, 1);
    const event = priceDropped(product);

    await send(event);

    const matches = await ctx.database.db
      .selectFrom("rule_matches")
      .select("match_id")
      .where("trigger_message_id", "=", String(event.messageId))
      .execute();
    expect(matches).toEqual([]);
  });

  it("when a trigger is a dry run, then it answers what the trigger then does, and records nothing", async () => {
    const product = uniqueId("product");
    // One saver without a device: suppressed, as the preview says.
    const users = await savers(product, 3, 2);
    const event = priceDropped(product);

    const dryRun = await trigger("price-drop", { event, dryRun: true });
    expect(dryRun.status).toBe(200);
    expect(dryRun.body.triggered).toBe(true);
    expect(await getMatchOfEvent(String(event.messageId))).toBeUndefined();

    const real = await trigger("price-drop", { event });
    await ctx.app.deps.planner.drain();
    const rows = await notificationsOfMatch(real.body.matchId);
    const outcome = (r: { status: string; reason?: string | null }) =>
      `${r.status}:${r.reason ?? ""}`;
    const previewed = new Map<string, string>(
      dryRun.body.recipients.map(
        (r: { userId: string; status: string; reason?: string }) => [
          r.userId,
          outcome(r),
        ],
      ),
    );
    expect(new Map(rows.map((r) => [r.user_id, outcome(r)]))).toEqual(
      previewed,
    );
    expect([...previewed.values()].sort()).toEqual([
      "pending:",
      "pending:",
      "suppressed:no_device",
    ]);
    expect([...previewed.keys()].sort()).toEqual([...users].sort());
  });

  it("when a manual broadcast names a trait segment, then every matching profile is planned", async () => {
    const vips = [uniqueId("vip"), uniqueId("vip")];
    await send(
      ...vips.map((userId) => ({
        type: "identify",
        userId,
        traits: { tier: "vip" },
        context: { device: { type: "ios", token: apnsToken() } },
      })),
    );
    const response = await trigger("vip-launch", {
      event: priceDropped(uniqueId("product")),
    });
    expect(response.status).toBe(202);
    await ctx.app.deps.planner.drain();
    const planned = await notificationsOfMatch(response.body.matchId);
    expect(planned.map((r) => r.user_id)).toEqual(expect.arrayContaining(vips));
  });
});

async function getMatchOfEvent(messageId: string) {
  return ctx.database.db
    .selectFrom("rule_matches")
    .select("match_id")
    .where("trigger_message_id", "=", messageId)
    .executeTakeFirst();
}

describe("a trigger refused", () => {
  it("when the event does not match a rule's trigger condition, then 422 not_triggered; when it does, the match is recorded for the event's user", async () => {
    const userId = uniqueId("user");
    const wrong = await trigger("welcome", {
      event: { type: "track", event: "Logged In", userId },
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.code).toBe("not_triggered");
    expect(wrong.body.error.message).toContain('event = "Signed Up"');

    const right = await trigger("welcome", {
      event: { type: "track", event: "Signed Up", userId },
    });
    expect(right.status).toBe(202);
    expect(right.body.userId).toBe(userId);
  });

  it.each([
    {
      name: "a disabled rule: 409 rule_disabled",
      ruleId: "paused",
      event: priceDropped("p-1"),
      status: 409,
      code: "rule_disabled",
    },
    {
      name: "a collection audience without the item's key: 422 not_triggered",
      ruleId: "price-drop",
      event: priceDropped("p-1", { properties: { name: "Lamp" } }),
      status: 422,
      code: "not_triggered",
    },
    {
      name: "an unknown rule: 404 rule_not_found",
      ruleId: "no-such-rule",
      event: priceDropped("p-1"),
      status: 404,
      code: "rule_not_found",
    },
    {
      name: "an invalid event: 400 invalid_body",
      ruleId: "price-drop",
      event: { type: "track", event: 42 },
      status: 400,
      code: "invalid_body",
    },
  ])("when it is $name, and nothing is recorded", async (refusal) => {
    const response = await trigger(refusal.ruleId, { event: refusal.event });
    expect(response.status).toBe(refusal.status);
    expect(response.body.error.code).toBe(refusal.code);
    if (typeof refusal.event.messageId === "string")
      expect(await getMatchOfEvent(refusal.event.messageId)).toBeUndefined();
  });

  it("when a match is unknown, then following or cancelling it answers 404 match_not_found", async () => {
    const followed = await getMatch("no-such-match");
    const cancelled = await ctx.app.request(
      "POST",
      "/v1/matches/no-such-match/cancel",
      { admin: true },
    );
    expect([followed.status, cancelled.status]).toEqual([404, 404]);
    expect(followed.body.error.code).toBe("match_not_found");
  });
});

describe("cancelling a match", () => {
  it("when a fan-out is cancelled after its first page, then that page's waiting pushes are cancelled and no further page is planned", async () => {
    const product = uniqueId("product");
    await savers(product, PAGE_SIZE + 500);
    // Earlier tests' matches first, so that the next page planned is this match's.
    await ctx.app.deps.planner.drain();
    const started = await trigger("price-drop-tomorrow", {
      event: priceDropped(product),
    });
    const { matchId } = started.body;
    const held = createHeldMatches({ ...ctx.app.deps, leaseMs: 60_000 });
    const lookups = lookupsWithout((zone) => zone ?? "UTC");
    await expandNextPage(ctx.app.deps, lookups, held);

    const cancel = () =>
      ctx.app.request("POST", `/v1/matches/${matchId}/cancel`, {
        admin: true,
      });
    const first = await cancel();
    // The process that planned the first page goes on, and finds the match stopped.
    await expandNextPage(ctx.app.deps, lookups, held);
    await ctx.app.deps.planner.drain();
    const again = await cancel();

    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      status: "cancelled",
      planned: PAGE_SIZE,
      stopped: true,
      cancelled: PAGE_SIZE,
    });
    expect(again.body).toMatchObject({ stopped: false, cancelled: 0 });
    const rows = await notificationsOfMatch(matchId);
    expect(rows).toHaveLength(PAGE_SIZE);
    expect(new Set(rows.map((r) => `${r.status}:${r.reason ?? ""}`))).toEqual(
      new Set(["cancelled:cancelled_by:operator"]),
    );
    expect((await getMatch(matchId)).body).toMatchObject({
      status: "cancelled",
      planned: PAGE_SIZE,
      notifications: { cancelled: PAGE_SIZE },
    });
  });
});
