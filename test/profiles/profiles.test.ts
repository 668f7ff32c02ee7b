import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { findStrandedAliases } from "../../src/profiles/profile.repository.ts";
import { mergeStrandedProfiles } from "../../src/profiles/profile.service.ts";
import { heldAlias, heldDevice, whileOneWaits } from "../support/held-row.ts";
import { useTestApp } from "../support/test-app.ts";
import { apnsToken, fcmToken, uniqueId } from "../support/test-database.ts";

const ctx = useTestApp();

type Fields = Record<string, unknown>;

function call(type: string, fields: Fields): Fields {
  return { type, messageId: uniqueId("msg"), ...fields };
}

function identify(userId: string, traits: Fields = {}, more: Fields = {}) {
  return call("identify", { userId, traits, ...more });
}

function track(event: string, fields: Fields) {
  return call("track", { event, ...fields });
}

function wishlist(op: "Added to" | "Removed from", ids: Fields, props: Fields) {
  return track(`Product ${op} Wishlist`, { ...ids, properties: props });
}

/** Posts one event (or a batch array when given several) and expects all accepted. */
async function send(...events: Fields[]): Promise<void> {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: events.length === 1 ? events[0] : events,
  });
  expect(response.body).toEqual({
    accepted: events.length,
    duplicates: 0,
    rejected: [],
  });
}

/** Like `send`, for calls of which a part is not used: expects `[index, code]` warnings. */
async function sendWarned(
  warned: [number, string][],
  ...events: Fields[]
): Promise<void> {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: events,
  });
  expect(response.body).toMatchObject({
    accepted: events.length,
    duplicates: 0,
    rejected: [],
  });
  const { warnings } = response.body as {
    warnings: { index: number; code: string }[];
  };
  expect(warnings.map(({ index, code }) => [index, code])).toEqual(warned);
}

async function getUser(userId: string) {
  return ctx.app.request("GET", `/v1/users/${encodeURIComponent(userId)}`, {
    admin: true,
  });
}

async function profile(userId: string): Promise<any> {
  const response = await getUser(userId);
  expect(response.status, `GET ${userId}`).toBe(200);
  return response.body;
}

function pushSubscription() {
  return {
    endpoint: `https://push.example.test/${uniqueId("sub")}`,
    keys: {
      p256dh: randomBytes(65).toString("base64url"),
      auth: randomBytes(16).toString("base64url"),
    },
  };
}

function deviceContext(type: string, token: string): Fields {
  return { device: { type, token } };
}

describe("traits", () => {
  it("when identifies follow each other, then traits merge shallowly: later values win, earlier keys stay", async () => {
    const userId = uniqueId("user");
    await send(
      identify(userId, {
        first_name: "Ada",
        plan: "free",
        address: { city: "Paris", zip: "75001" },
      }),
    );
    await send(identify(userId, { plan: "pro", address: { city: "Berlin" } }));
    expect((await profile(userId)).traits).toEqual({
      first_name: "Ada",
      plan: "pro",
      address: { city: "Berlin" },
    });
  });

  it("when identifies arrive in one batch, then they merge in order", async () => {
    const userId = uniqueId("user");
    await send(
      identify(userId, { plan: "free", email: "a@example.test" }),
      identify(userId, { plan: "pro" }),
      identify(userId, { plan: "enterprise", seats: 5 }),
    );
    expect((await profile(userId)).traits).toEqual({
      plan: "enterprise",
      email: "a@example.test",
      seats: 5,
    });
  });
});

describe("timezone and locale", () => {
  it("when any event carries context.timezone and context.locale, then the profile takes them and keeps them", async () => {
    const userId = uniqueId("user");
    await send(
      track("Product Viewed", {
        userId,
        context: { timezone: "Europe/Berlin", locale: "de-DE" },
      }),
    );
    expect(await profile(userId)).toMatchObject({
      timezone: "Europe/Berlin",
      locale: "de-DE",
    });
    await send(
      call("page", {
        userId,
        name: "Home",
        context: { timezone: "America/New_York", locale: "en-US" },
      }),
    );
    await send(track("Product Viewed", { userId }));
    expect(await profile(userId)).toMatchObject({
      timezone: "America/New_York",
      locale: "en-US",
    });
  });

  it("when an identify carries timezone and locale traits, then the profile takes them", async () => {
    const userId = uniqueId("user");
    await send(identify(userId, { timezone: "Asia/Tokyo", locale: "ja-JP" }));
    expect(await profile(userId)).toMatchObject({
      timezone: "Asia/Tokyo",
      locale: "ja-JP",
    });
  });
});

describe("timezone and locale precedence", () => {
  const chosen = { timezone: "Europe/Berlin", locale: "de-DE" };
  const browser = { timezone: "America/New_York", locale: "en-US" };

  it("when an identify sets traits.locale, then later calls' context.locale does not replace it", async () => {
    const userId = uniqueId("user");
    await send(identify(userId, chosen, { context: browser }));
    await send(track("Product Viewed", { userId, context: browser }));
    await send(call("page", { userId, name: "Home", context: browser }));
    expect(await profile(userId)).toMatchObject(chosen);
  });

  it("when context set the locale first, then a later trait replaces it, and context no longer does", async () => {
    const userId = uniqueId("user");
    await send(track("Product Viewed", { userId, context: browser }));
    expect(await profile(userId)).toMatchObject(browser);
    await send(identify(userId, chosen));
    await send(track("Product Viewed", { userId, context: browser }));
    expect(await profile(userId)).toMatchObject(chosen);
  });

  it("when a later identify sets another trait, then it replaces the earlier trait", async () => {
    const userId = uniqueId("user");
    await send(identify(userId, chosen));
    await send(identify(userId, { timezone: "Asia/Tokyo", locale: "ja-JP" }));
    expect(await profile(userId)).toMatchObject({
      timezone: "Asia/Tokyo",
      locale: "ja-JP",
    });
  });

  it("when an anonymous profile with a chosen locale merges into one with the browser's, then the chosen one is kept", async () => {
    const userId = uniqueId("user");
    const anonymousId = uniqueId("anon");
    await send(track("Product Viewed", { userId, context: browser }));
    await send(
      call("identify", { anonymousId, traits: chosen, context: browser }),
    );
    await send(call("alias", { previousId: anonymousId, userId }));
    expect(await profile(userId)).toMatchObject(chosen);
  });

  it("when a profile with a chosen locale absorbs one with the browser's, then its own is kept", async () => {
    const userId = uniqueId("user");
    const anonymousId = uniqueId("anon");
    await send(identify(userId, chosen));
    await send(track("Product Viewed", { anonymousId, context: browser }));
    await send(call("alias", { previousId: anonymousId, userId }));
    expect(await profile(userId)).toMatchObject(chosen);
  });
});

describe("when a profile changed", () => {
  it("when calls repeat what the profile and its device already say, then nothing is rewritten and updatedAt is the last change", async () => {
    const userId = uniqueId("user");
    const token = apnsToken();
    const at = (minutes: number) => new Date(Date.UTC(2026, 6, 1, 12, minutes));
    const seen = (fields: Fields = {}) =>
      track("Product Viewed", {
        userId,
        context: {
          timezone: "Europe/Berlin",
          locale: "de-DE",
          ...deviceContext("ios", token),
        },
        ...fields,
      });
    ctx.app.setNow(at(0));
    await send(identify(userId, { plan: "pro" }), seen());
    const first = await profile(userId);
    expect(first.updatedAt).toBe(at(0).toISOString());
    expect(first.devices[0].updatedAt).toBe(at(0).toISOString());

    ctx.app.setNow(at(1));
    await send(seen(), identify(userId, { plan: "pro" }));
    expect(await profile(userId)).toEqual(first);

    ctx.app.setNow(at(2));
    await send(identify(userId, { plan: "team" }));
    const changed = await profile(userId);
    expect(changed.updatedAt).toBe(at(2).toISOString());
    expect(changed.traits).toEqual({ plan: "team" });
    expect(changed.devices[0].updatedAt).toBe(at(0).toISOString());

    ctx.app.setNow(at(3));
    await send(
      seen({ context: { locale: "fr-FR", ...deviceContext("ios", token) } }),
    );
    const relocated = await profile(userId);
    expect(relocated.locale).toBe("fr-FR");
    expect(relocated.updatedAt).toBe(at(3).toISOString());
    expect(relocated.devices[0]).toMatchObject({
      locale: "fr-FR",
      updatedAt: at(3).toISOString(),
    });
  });
});

describe("when a call repeats a preference or a saved item", () => {
  /** Each row's version (xmin): a rewrite of the row gives it a new one. */
  async function rowVersions(userId: string): Promise<string[]> {
    const { rows } = await sql<{ version: string }>`
      select xmin::text as version from category_preferences where user_id = ${userId}
      union all
      select xmin::text from saved_items where user_id = ${userId}`.execute(
      ctx.app.deps.db,
    );
    return rows.map((row) => row.version);
  }

  it("then their rows are not rewritten, and a change still is", async () => {
    const userId = uniqueId("user");
    const item = { product_id: "p-1", name: "Lamp", price: 30 };
    await send(
      identify(userId, { promotions_opt_in: true }),
      wishlist("Added to", { userId }, item),
    );
    const written = await rowVersions(userId);
    expect(written).toHaveLength(2);

    await send(
      identify(userId, { promotions_opt_in: true }),
      wishlist("Added to", { userId }, item),
    );
    expect(await rowVersions(userId)).toEqual(written);

    await send(
      identify(userId, { promotions_opt_in: false }),
      wishlist("Added to", { userId }, { ...item, price: 25 }),
    );
    const changed = await rowVersions(userId);
    expect(changed).toHaveLength(2);
    expect(changed.filter((v) => written.includes(v))).toEqual([]);
    const user = await profile(userId);
    expect(user.preferences.categories.promotions).toBe("out");
    expect(user.savedItems.wishlist).toMatchObject([
      { key: "p-1", properties: { price: 25 } },
    ]);
  });
});

describe("merging an anonymous profile into a known one", () => {
  /** An anonymous visitor with traits, a device, a saved item and preferences. */
  async function anonymousVisitor(anonymousId: string, token: string) {
    await send(
      call("identify", {
        anonymousId,
        traits: {
          plan: "trial",
          favorite_color: "blue",
          promotions_opt_in: false,
        },
        context: {
          ...deviceContext("ios", token),
          messaging_subscriptions: [
            {
              key: token,
              type: "IOS_PUSH",
              status: "SUBSCRIBED",
              groups: [
                { name: "orders", status: "UNSUBSCRIBED" },
                // Not declared in the rules: kept, but no preference of the profile.
                { name: "nope", status: "SUBSCRIBED" },
              ],
            },
          ],
        },
      }),
      wishlist("Added to", { anonymousId }, { product_id: "p-anon" }),
    );
  }

  /** The known user's own traits and preferences win; the visitor's are added. */
  function expectMerged(view: any, userId: string, token: string) {
    expect(view.userId).toBe(userId);
    expect(view.traits).toEqual({
      plan: "pro",
      favorite_color: "blue",
      promotions_opt_in: true,
      name: "Known",
    });
    expect(view.devices).toEqual([
      expect.objectContaining({ platform: "apns", token, status: "active" }),
    ]);
    expect(view.savedItems.wishlist).toEqual([
      expect.objectContaining({ key: "p-anon" }),
    ]);
    expect(view.preferences).toEqual({
      optedOut: false,
      categories: { promotions: "in", orders: "out" },
    });
  }

  it("when an alias links the anonymous id to a user, then devices, saved items, preferences and traits move to the user", async () => {
    const [anonymousId, userId, token] = [
      uniqueId("anon"),
      uniqueId("user"),
      apnsToken(),
    ];
    await anonymousVisitor(anonymousId, token);
    await send(
      identify(userId, { plan: "pro", name: "Known", promotions_opt_in: true }),
    );
    await send(call("alias", { previousId: anonymousId, userId }));

    expectMerged(await profile(userId), userId, token);
    expectMerged(await profile(anonymousId), userId, token);

    await send(
      wishlist("Added to", { anonymousId }, { product_id: "p-later" }),
    );
    const view = await profile(userId);
    expect(view.savedItems.wishlist.map((item: any) => item.key)).toEqual([
      "p-anon",
      "p-later",
    ]);
  });

  it("when an identify carries both anonymousId and userId, then the anonymous profile merges into the user", async () => {
    const [anonymousId, userId, token] = [
      uniqueId("anon"),
      uniqueId("user"),
      apnsToken(),
    ];
    await anonymousVisitor(anonymousId, token);
    await send(
      identify(userId, { plan: "pro", promotions_opt_in: true }),
      identify(userId, { name: "Known" }, { anonymousId }),
    );

    expectMerged(await profile(userId), userId, token);
    expectMerged(await profile(anonymousId), userId, token);

    await send(
      track("Product Viewed", {
        anonymousId,
        context: { timezone: "Europe/Paris" },
      }),
    );
    expect((await profile(userId)).timezone).toBe("Europe/Paris");
  });

  it("when the anonymous events and the identify come in one batch, then the merge happens in order", async () => {
    const [anonymousId, userId, token] = [
      uniqueId("anon"),
      uniqueId("user"),
      apnsToken(),
    ];
    await send(
      track("App Opened", {
        anonymousId,
        context: deviceContext("ios", token),
      }),
      wishlist("Added to", { anonymousId }, { product_id: "p-1" }),
      identify(userId, { name: "Known" }, { anonymousId }),
      wishlist("Added to", { anonymousId }, { product_id: "p-2" }),
    );
    const view = await profile(anonymousId);
    expect(view.userId).toBe(userId);
    expect(view.devices).toEqual([expect.objectContaining({ token })]);
    expect(
      view.savedItems.wishlist.map((item: any) => item.key).sort(),
    ).toEqual(["p-1", "p-2"]);
  });

  it("when new users' first calls carry both ids in one batch, then each anonymousId is linked to its user, and their later anonymous calls land on the user", async () => {
    const users = [0, 1, 2].map(() => ({
      userId: uniqueId("user"),
      anonymousId: uniqueId("anon"),
      token: apnsToken(),
    }));
    await send(
      ...users.map((u) =>
        track("App Opened", {
          userId: u.userId,
          anonymousId: u.anonymousId,
          context: deviceContext("ios", u.token),
        }),
      ),
      wishlist("Added to", { userId: users[0]?.userId }, { product_id: "p-1" }),
    );
    const aliases = await ctx.database.db
      .selectFrom("profile_aliases")
      .select(["alias_id", "user_id"])
      .where(
        "alias_id",
        "in",
        users.map((u) => u.anonymousId),
      )
      .execute();
    expect(
      Object.fromEntries(aliases.map((a) => [a.alias_id, a.user_id])),
    ).toEqual(Object.fromEntries(users.map((u) => [u.anonymousId, u.userId])));
    for (const u of users) {
      await send(
        wishlist(
          "Added to",
          { anonymousId: u.anonymousId },
          { product_id: "p-2" },
        ),
      );
      const view = await profile(u.anonymousId);
      expect(view.userId).toBe(u.userId);
      expect(view.devices).toEqual([
        expect.objectContaining({ token: u.token }),
      ]);
      expect(
        view.savedItems.wishlist.map((item: any) => item.key).sort(),
      ).toEqual(u === users[0] ? ["p-1", "p-2"] : ["p-2"]);
    }
  });

  it("when a second user identifies with an anonymousId already merged into another user, then the two users stay separate", async () => {
    const [anonymousId, first, second, token] = [
      uniqueId("anon"),
      uniqueId("user"),
      uniqueId("user"),
      apnsToken(),
    ];
    await send(identify(first, { name: "First" }, { anonymousId }));
    await send(wishlist("Added to", { userId: first }, { product_id: "p-1" }));
    await send(
      identify(
        second,
        { name: "Second" },
        { anonymousId, context: deviceContext("ios", token) },
      ),
    );

    const one = await profile(first);
    const two = await profile(second);
    expect(one.traits).toEqual({ name: "First" });
    expect(one.savedItems.wishlist).toHaveLength(1);
    expect(two.userId).toBe(second);
    expect(two.traits).toEqual({ name: "Second" });
    expect(two.savedItems).toEqual({});
    expect(two.devices).toEqual([expect.objectContaining({ token })]);
    expect((await profile(anonymousId)).userId).toBe(first);
  });
});

describe("what a merge race left under an alias", () => {
  it("when an id was recorded as an alias of a profile merged on meanwhile, then the sweep after a write moves its data to the profile at the end of the chain", async () => {
    const [stranded, middle, last, token] = [
      uniqueId("anon"),
      uniqueId("user"),
      uniqueId("user"),
      apnsToken(),
    ];
    await send(identify(last, { name: "Last" }));
    await send(call("alias", { userId: last, previousId: middle }));
    await send(
      identify(
        stranded,
        { plan: "trial" },
        { context: deviceContext("ios", token) },
      ),
    );
    // What a merge of `stranded` into `middle` leaves when its alias is recorded
    // after another request merged `middle` on: a chain, with data under its start.
    await sql`insert into profile_aliases (alias_id, user_id, created_at)
      values (${stranded}, ${middle}, now())`.execute(ctx.database.db);

    const moves = await mergeStrandedProfiles(
      ctx.app.deps.db,
      [stranded],
      new Date(),
      ctx.app.deps.userRows,
    );

    expect(moves).toEqual([
      { from: stranded, into: middle },
      { from: middle, into: last },
    ]);
    expect(
      await findStrandedAliases(ctx.database.db, [stranded, middle]),
    ).toEqual([]);
    const view = await profile(stranded);
    expect(view.userId).toBe(last);
    expect(view.traits).toEqual({ name: "Last", plan: "trial" });
    expect(view.devices).toEqual([expect.objectContaining({ token })]);
  });
});

/*
 * Two requests at once, one writing under an anonymous id and one merging that id into
 * a user, each deciding from reads made before the other commits. A transaction of the
 * test's own holds a row that one of them must write, so that the other commits while
 * it waits; only real PostgreSQL serves requests concurrently.
 */
describe.runIf(Boolean(process.env.TEST_DATABASE_URL))(
  "a merge racing a write under the merged id (PostgreSQL)",
  () => {
    const races = [
      {
        name: "when the write commits while the merge waits to commit, then the merge moves what was written",
        // The new user's first call finds that the anonymous id owns nothing, and
        // waits to record its alias.
        held: (anonymousId: string) => heldAlias(anonymousId),
        waits: "merge",
      },
      {
        name: "when the merge commits while the write waits to commit, then the write moves what it wrote",
        // The anonymous call resolves to its own id, and waits to write the device.
        held: (_: string, token: string) => heldDevice(token),
        waits: "write",
      },
    ] as const;

    it.each(races)("$name", async ({ held, waits }) => {
      const [anonymousId, userId, token] = [
        uniqueId("anon"),
        uniqueId("user"),
        apnsToken(),
      ];
      const merge = () =>
        send(identify(userId, { name: "Known" }, { anonymousId }));
      const write = () =>
        send(
          track("App Opened", {
            anonymousId,
            context: deviceContext("ios", token),
          }),
        );
      await whileOneWaits(
        ctx.database.url ?? "",
        held(anonymousId, token),
        waits === "merge" ? merge : write,
        waits === "merge" ? write : merge,
      );

      const view = await profile(userId);
      expect(view.traits).toEqual({ name: "Known" });
      expect(view.devices).toEqual([
        expect.objectContaining({ platform: "apns", token, status: "active" }),
      ]);
      expect((await profile(anonymousId)).userId).toBe(userId);
    });
  },
);

describe("devices", () => {
  it("when context.device has a token and a type, then ios hex tokens are APNs, android and non-hex ios tokens FCM", async () => {
    const userId = uniqueId("user");
    const [apns, android, firebaseIos] = [apnsToken(), fcmToken(), fcmToken()];
    await sendWarned(
      [[4, "device_type_unknown"]],
      track("App Opened", {
        userId,
        context: { ...deviceContext("ios", apns), locale: "fr-FR" },
      }),
      track("App Opened", {
        userId,
        context: deviceContext("android", android),
      }),
      track("App Opened", {
        userId,
        context: deviceContext("iOS", firebaseIos),
      }),
      track("App Opened", { userId, context: deviceContext("ios", "") }),
      track("App Opened", {
        userId,
        context: deviceContext("macos", fcmToken()),
      }),
    );
    const devices = (await profile(userId)).devices;
    expect(devices).toHaveLength(3);
    expect(devices).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          platform: "apns",
          token: apns,
          status: "active",
          locale: "fr-FR",
          deviceId: expect.any(String),
        }),
        expect.objectContaining({ platform: "fcm", token: android }),
        expect.objectContaining({ platform: "fcm", token: firebaseIos }),
      ]),
    );
  });

  it("when messaging_subscriptions list push channels in any case, then they become devices and their groups preferences", async () => {
    const userId = uniqueId("user");
    const [ios, android, declined, firebaseIos] = [
      apnsToken(),
      fcmToken(),
      fcmToken(),
      fcmToken(),
    ];
    const subscription = pushSubscription();
    await send(
      identify(
        userId,
        {},
        {
          context: {
            messaging_subscriptions: [
              { key: "a@example.test", type: "EMAIL", status: "SUBSCRIBED" },
              { key: ios, type: "IOS_PUSH", status: "SUBSCRIBED" },
              { key: firebaseIos, type: "ios_push", status: "Subscribed" },
              { key: android, type: "ANDROID_PUSH", status: "unsubscribed" },
              {
                key: declined,
                type: "ANDROID_PUSH",
                status: "did_not_subscribe",
              },
              {
                key: JSON.stringify(subscription),
                type: "WEB_PUSH",
                status: "SUBSCRIBED",
                groups: [
                  { name: "promotions", status: "unsubscribed" },
                  { name: "orders", status: "SUBSCRIBED" },
                ],
              },
            ],
          },
        },
      ),
    );
    const view = await profile(userId);
    const byToken = Object.fromEntries(
      view.devices.map((d: any) => [d.token, d]),
    );
    expect(Object.keys(byToken)).toHaveLength(5);
    expect(byToken[ios]).toMatchObject({ platform: "apns", status: "active" });
    expect(byToken[firebaseIos]).toMatchObject({
      platform: "fcm",
      status: "active",
    });
    expect(byToken[android]).toMatchObject({
      platform: "fcm",
      status: "unsubscribed",
    });
    expect(byToken[declined]).toMatchObject({ status: "unsubscribed" });
    expect(byToken[subscription.endpoint]).toMatchObject({
      platform: "webpush",
      status: "active",
      subscription,
    });
    expect(view.preferences.categories).toEqual({
      promotions: "out",
      orders: "in",
    });
  });

  it("when Web Push Subscribed carries a PushSubscription, then a Web Push device is registered, and Web Push Unsubscribed unsubscribes it", async () => {
    const userId = uniqueId("user");
    const subscription = pushSubscription();
    await sendWarned(
      [[1, "web_push_endpoint_not_https"]],
      track("Web Push Subscribed", { userId, properties: { subscription } }),
      track("Web Push Subscribed", {
        userId,
        properties: { subscription: { endpoint: "http://insecure.test/x" } },
      }),
    );
    const [device] = (await profile(userId)).devices;
    expect((await profile(userId)).devices).toHaveLength(1);
    expect(device).toMatchObject({
      platform: "webpush",
      token: subscription.endpoint,
      subscription,
      status: "active",
    });

    await send(
      track("Web Push Unsubscribed", { userId, properties: { subscription } }),
    );
    expect((await profile(userId)).devices).toEqual([
      expect.objectContaining({
        deviceId: device.deviceId,
        status: "unsubscribed",
      }),
    ]);
  });

  it("when a second user sends a known token, then the one device moves to that user", async () => {
    const [first, second, token] = [
      uniqueId("user"),
      uniqueId("user"),
      fcmToken(),
    ];
    await send(
      track("App Opened", {
        userId: first,
        context: deviceContext("android", token),
      }),
    );
    const [device] = (await profile(first)).devices;
    await send(
      track("App Opened", {
        userId: second,
        context: deviceContext("android", token),
      }),
    );
    expect((await profile(first)).devices).toEqual([]);
    expect((await profile(second)).devices).toEqual([
      expect.objectContaining({ deviceId: device.deviceId, token }),
    ]);
  });

  it("when an unsubscribed token is seen again on an ordinary event, then it stays unsubscribed until an explicit SUBSCRIBED", async () => {
    const userId = uniqueId("user");
    const token = apnsToken();
    const subscriptions = (status: string) => ({
      messaging_subscriptions: [{ key: token, type: "IOS_PUSH", status }],
    });
    await send(
      identify(userId, {}, { context: subscriptions("UNSUBSCRIBED") }),
    );
    await send(
      track("App Opened", { userId, context: deviceContext("ios", token) }),
    );
    expect((await profile(userId)).devices).toEqual([
      expect.objectContaining({ token, status: "unsubscribed" }),
    ]);

    await send(identify(userId, {}, { context: subscriptions("SUBSCRIBED") }));
    expect((await profile(userId)).devices).toEqual([
      expect.objectContaining({ token, status: "active" }),
    ]);
  });
});

describe("devices from both sources", () => {
  it("when a Firebase iOS token seen on context.device is unsubscribed through IOS_PUSH, then its one device is unsubscribed", async () => {
    const userId = uniqueId("user");
    const token = fcmToken();
    await send(
      track("App Opened", { userId, context: deviceContext("ios", token) }),
    );
    await send(
      identify(
        userId,
        {},
        {
          context: {
            messaging_subscriptions: [
              { key: token, type: "IOS_PUSH", status: "UNSUBSCRIBED" },
            ],
          },
        },
      ),
    );
    expect((await profile(userId)).devices).toEqual([
      expect.objectContaining({
        platform: "fcm",
        token,
        status: "unsubscribed",
      }),
    ]);
  });
});

describe("saved items", () => {
  it("when a product is added to and later removed from the wishlist, then the wishlist holds it with its properties in between", async () => {
    const userId = uniqueId("user");
    const properties = { product_id: "p-42", name: "Lamp", price: 49.5 };
    await send(wishlist("Added to", { userId }, properties));
    expect((await profile(userId)).savedItems).toEqual({
      wishlist: [{ key: "p-42", properties, savedAt: expect.any(String) }],
    });
    await send(wishlist("Removed from", { userId }, { product_id: "p-42" }));
    expect((await profile(userId)).savedItems).toEqual({});
  });

  it("when adds and removes come in one batch, then they net out in order", async () => {
    const userId = uniqueId("user");
    await send(
      wishlist("Added to", { userId }, { product_id: "gone" }),
      wishlist("Removed from", { userId }, { product_id: "gone" }),
      wishlist("Removed from", { userId }, { product_id: "back" }),
      wishlist("Added to", { userId }, { product_id: "back", v: 1 }),
      wishlist("Added to", { userId }, { product_id: "back", v: 2 }),
      wishlist("Added to", { userId }, { product_id: 7 }),
    );
    const items = (await profile(userId)).savedItems.wishlist;
    expect(items).toHaveLength(2);
    expect(items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          key: "back",
          properties: { product_id: "back", v: 2 },
        }),
        expect.objectContaining({ key: "7" }),
      ]),
    );
  });
});

describe("preference traits from the rules file", () => {
  it("when an identify sets push_opt_out, then the global opt-out follows it", async () => {
    const userId = uniqueId("user");
    await send(identify(userId, { push_opt_out: true }));
    expect((await profile(userId)).preferences.optedOut).toBe(true);
    await send(identify(userId, { plan: "pro" }));
    expect((await profile(userId)).preferences.optedOut).toBe(true);
    await send(identify(userId, { push_opt_out: false }));
    expect((await profile(userId)).preferences.optedOut).toBe(false);
  });

  it("when an identify sets promotions_opt_in to false, then the user is out of promotions only", async () => {
    const userId = uniqueId("user");
    await send(identify(userId, { name: "No Promo" }));
    expect((await profile(userId)).preferences).toEqual({
      optedOut: false,
      categories: { promotions: "in", orders: "in" },
    });
    await send(identify(userId, { promotions_opt_in: false }));
    expect((await profile(userId)).preferences).toEqual({
      optedOut: false,
      categories: { promotions: "out", orders: "in" },
    });
  });
});

describe("delete", () => {
  it("when a delete notice arrives, then the user, their aliases, devices and saved items are erased", async () => {
    const [anonymousId, userId, token] = [
      uniqueId("anon"),
      uniqueId("user"),
      apnsToken(),
    ];
    await send(
      identify(
        userId,
        { name: "Erase Me" },
        { anonymousId, context: deviceContext("ios", token) },
      ),
      wishlist("Added to", { userId }, { product_id: "p-1" }),
    );
    await send(call("delete", { userId }));
    expect((await getUser(userId)).status).toBe(404);
    expect((await getUser(anonymousId)).status).toBe(404);

    const other = uniqueId("user");
    await send(
      track("App Opened", {
        userId: other,
        context: deviceContext("ios", token),
      }),
    );
    expect((await profile(other)).devices).toEqual([
      expect.objectContaining({ token }),
    ]);
    await send(identify(userId, { plan: "new" }));
    const reborn = await profile(userId);
    expect(reborn.traits).toEqual({ plan: "new" });
    expect(reborn.devices).toEqual([]);
    expect(reborn.savedItems).toEqual({});
  });
});
