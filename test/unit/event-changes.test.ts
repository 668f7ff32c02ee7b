import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { changesOfEvent } from "../../src/ingest/event-changes.ts";
import { parseSegmentEvent } from "../../src/ingest/segment-event.schema.ts";
import { type SegmentEvent } from "../../src/segment-event.ts";
import {
  emptyProfileChange,
  foldProfileChange,
  type ProfileChange,
} from "../../src/profiles/profile-changes.ts";
import { compileRuleBook } from "../../src/rules/rule-book.ts";

const book = compileRuleBook(
  JSON.parse(readFileSync("examples/rules.json", "utf8")),
  "x",
);

const APNS_TOKEN =
  "ff15bc0c20c4aa6cd50854ff165fd265c838e5405bfeb9571066395b8c9da449";
const FCM_TOKEN = "dGVzdC1mY20tdG9rZW46QVBBOTFiSGV4YW1wbGU";

const SUBSCRIPTION = {
  endpoint: "https://push.example.com/send/abc",
  expirationTime: null,
  keys: {
    p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA",
    auth: "tBHItJI5svbpez7KI4CCXg",
  },
};

function event(input: Record<string, unknown>): SegmentEvent {
  const result = parseSegmentEvent(
    { userId: "u1", messageId: "m1", ...input },
    new Date("2024-06-01T00:00:00Z"),
  );
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.event;
}

function changesOf(input: Record<string, unknown>): ProfileChange {
  return changesOfEvent(event(input), book);
}

function identify(traits: Record<string, unknown>): ProfileChange {
  return changesOf({ type: "identify", traits });
}

function withDevice(device: Record<string, unknown>): ProfileChange {
  return changesOf({ type: "track", event: "App Opened", context: { device } });
}

function withSubscriptions(subscriptions: unknown[]): ProfileChange {
  return changesOf({
    type: "identify",
    context: { messaging_subscriptions: subscriptions },
  });
}

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(
    readFileSync(`test/fixtures/segment-examples/${name}`, "utf8"),
  );
}

describe("changesOfEvent: traits, groups, timezone, locale", () => {
  it("when an identify call arrives, then its traits are the change's traits", () => {
    expect(identify({ first_name: "Ada", plan: "pro" }).traits).toEqual({
      first_name: "Ada",
      plan: "pro",
    });
  });

  it("when a track call carries traits, then they are not merged into the profile", () => {
    const change = changesOf({
      type: "track",
      event: "Opened",
      traits: { plan: "pro" },
    });
    expect(change.traits).toEqual({});
  });

  it("when a group call arrives, then its traits are stored under the group id", () => {
    const change = changesOf({
      type: "group",
      groupId: "acme",
      traits: { name: "Acme Inc" },
    });
    expect(change.groups).toEqual({ acme: { name: "Acme Inc" } });
  });

  it("when the context names a timezone and locale, then both are taken", () => {
    const change = changesOf({
      type: "track",
      event: "Opened",
      context: { timezone: " Europe/Berlin ", locale: "de-DE" },
    });
    expect(change.timezone).toEqual({
      value: "Europe/Berlin",
      source: "context",
    });
    expect(change.locale).toEqual({ value: "de-DE", source: "context" });
  });

  it("when an identify call has timezone and locale traits only, then the traits are used", () => {
    const change = identify({ timezone: "Asia/Tokyo", locale: "ja-JP" });
    expect(change.timezone).toEqual({ value: "Asia/Tokyo", source: "trait" });
    expect(change.locale).toEqual({ value: "ja-JP", source: "trait" });
  });

  it("when context and traits both name a timezone and locale, then the traits win", () => {
    const change = changesOf({
      type: "identify",
      traits: { timezone: "Asia/Tokyo", locale: "de-DE" },
      context: { timezone: "Europe/Paris", locale: "en-US" },
    });
    expect(change.timezone).toEqual({ value: "Asia/Tokyo", source: "trait" });
    expect(change.locale).toEqual({ value: "de-DE", source: "trait" });
  });

  it("when nothing names a timezone or locale, then both stay undefined", () => {
    const change = identify({ plan: "pro" });
    expect(change.timezone).toBeUndefined();
    expect(change.locale).toBeUndefined();
  });
});

describe("changesOfEvent: trait preferences", () => {
  it.each([
    [true, true],
    [false, false],
    ["true", true],
    ["yes", true],
    ["1", true],
    ["out", true],
    ["unsubscribed", true],
    ["false", false],
    ["no", false],
    ["in", false],
    ["subscribed", false],
  ])(
    "when push_opt_out is %j, then the global opt-out becomes %s",
    (value, optOut) => {
      expect(identify({ push_opt_out: value }).optOut).toBe(optOut);
    },
  );

  it.each([["maybe"], [1], [null]])(
    "when push_opt_out is %j, then the global opt-out is left unchanged",
    (value) => {
      expect(identify({ push_opt_out: value }).optOut).toBeUndefined();
    },
  );

  it("when push_opt_out is absent, then the global opt-out is left unchanged", () => {
    expect(identify({ plan: "pro" }).optOut).toBeUndefined();
  });

  it.each([
    [true, true],
    [false, false],
    ["yes", true],
    ["YES", true],
    ["in", true],
    ["subscribed", true],
    ["no", false],
    ["out", false],
    ["unsubscribed", false],
    ["0", false],
  ])(
    "when promotions_opt_in is %j, then the promotions category becomes %s",
    (value, optedIn) => {
      expect(identify({ promotions_opt_in: value }).categories).toEqual({
        promotions: optedIn,
      });
    },
  );

  it("when promotions_opt_in is not a yes/no value, then no category changes", () => {
    expect(identify({ promotions_opt_in: "perhaps" }).categories).toEqual({});
  });

  it("when a track call carries the preference traits, then no preference changes", () => {
    const change = changesOf({
      type: "track",
      event: "Opened",
      traits: { push_opt_out: true, promotions_opt_in: false },
    });
    expect(change.optOut).toBeUndefined();
    expect(change.categories).toEqual({});
  });
});

describe("changesOfEvent: context.device", () => {
  it("when an ios device sends a hex token, then it is an APNs device", () => {
    expect(
      changesOf({
        type: "track",
        event: "App Opened",
        context: {
          locale: "en-US",
          device: { type: "ios", token: APNS_TOKEN },
        },
      }).devices,
    ).toEqual([{ platform: "apns", token: APNS_TOKEN, locale: "en-US" }]);
  });

  it("when an ios device sends a non-hex token, then it is an FCM device", () => {
    expect(withDevice({ type: "ios", token: FCM_TOKEN }).devices).toEqual([
      { platform: "fcm", token: FCM_TOKEN, locale: undefined },
    ]);
  });

  it("when an android device sends a token, then it is an FCM device", () => {
    expect(
      withDevice({ type: "Android", token: ` ${FCM_TOKEN} ` }).devices,
    ).toEqual([{ platform: "fcm", token: FCM_TOKEN, locale: undefined }]);
  });

  it("when the device type is uppercase IOS, then it is still recognised", () => {
    expect(withDevice({ type: "IOS", token: APNS_TOKEN }).devices).toEqual([
      { platform: "apns", token: APNS_TOKEN, locale: undefined },
    ]);
  });

  it("when a device token is seen on an event, then no subscription status is claimed", () => {
    const [device] = withDevice({ type: "ios", token: APNS_TOKEN }).devices;
    expect(device?.status).toBeUndefined();
  });

  it.each([
    ["another device type", { type: "windows", token: APNS_TOKEN }],
    ["no device type", { token: APNS_TOKEN }],
    ["no token", { type: "ios" }],
    ["a blank token", { type: "android", token: "  " }],
    ["a numeric token", { type: "android", token: 42 }],
  ])("when the device has %s, then no device is registered", (_, device) => {
    expect(withDevice(device).devices).toEqual([]);
  });

  it("when the fixture's track call carries an ios token, then its APNs device is registered", () => {
    const change = changesOfEvent(
      event(fixture("03-track-common-fields-device-token.json")),
      book,
    );
    expect(change.devices).toEqual([
      { platform: "apns", token: APNS_TOKEN, locale: "en-US" },
    ]);
    expect(change.timezone?.value).toBe("Europe/Amsterdam");
  });
});

describe("changesOfEvent: messaging_subscriptions", () => {
  it("when Engage's identify arrives, then its push subscriptions become devices and other channels are ignored", () => {
    const change = changesOfEvent(
      event(fixture("09-identify-messaging-subscriptions-push.json")),
      book,
    );
    expect(change.devices).toEqual([
      {
        platform: "fcm",
        token: "abcd12bbfygdbvbvvvv",
        status: "unsubscribed",
        locale: undefined,
      },
      {
        platform: "fcm",
        token: "abcd12bbfjfsykdbvbvvvvvv",
        status: "active",
        locale: undefined,
      },
    ]);
  });

  it.each([
    ["a hex token", APNS_TOKEN, "apns"],
    ["a non-hex token", FCM_TOKEN, "fcm"],
  ])(
    "when IOS_PUSH carries %s, then it maps to the same platform as on context.device (%s)",
    (_, key, platform) => {
      const change = withSubscriptions([
        { key, type: "IOS_PUSH", status: "SUBSCRIBED" },
      ]);
      expect(change.devices.map((device) => device.platform)).toEqual([
        platform,
      ]);
    },
  );

  it.each([
    ["SUBSCRIBED", "active"],
    ["subscribed", "active"],
    ["UNSUBSCRIBED", "unsubscribed"],
    ["unsubscribed", "unsubscribed"],
    ["DID_NOT_SUBSCRIBE", "unsubscribed"],
    ["did_not_subscribe", "unsubscribed"],
  ])("when the status is %s, then the device is %s", (status, expected) => {
    const change = withSubscriptions([
      { key: FCM_TOKEN, type: "ANDROID_PUSH", status },
    ]);
    expect(change.devices.map((device) => device.status)).toEqual([expected]);
  });

  it("when the subscription type is lowercase, then it is still recognised", () => {
    const change = withSubscriptions([
      { key: APNS_TOKEN, type: "ios_push", status: "subscribed" },
    ]);
    expect(change.devices.map((device) => device.platform)).toEqual(["apns"]);
  });

  it.each([
    [
      "an unknown status",
      { key: FCM_TOKEN, type: "ANDROID_PUSH", status: "PENDING" },
    ],
    ["no status", { key: FCM_TOKEN, type: "ANDROID_PUSH" }],
    ["a non-push type", { key: "a@b.c", type: "EMAIL", status: "SUBSCRIBED" }],
    ["no key", { type: "ANDROID_PUSH", status: "SUBSCRIBED" }],
    ["a blank key", { key: " ", type: "ANDROID_PUSH", status: "SUBSCRIBED" }],
    ["a non-object entry", "ANDROID_PUSH"],
  ])("when an entry has %s, then it is skipped", (_, entry) => {
    expect(withSubscriptions([entry]).devices).toEqual([]);
  });

  it("when messaging_subscriptions is not an array, then nothing changes", () => {
    const change = changesOf({
      type: "identify",
      context: { messaging_subscriptions: { type: "IOS_PUSH" } },
    });
    expect(change.devices).toEqual([]);
  });

  it("when a push subscription has groups, then each group's status sets that category", () => {
    const change = withSubscriptions([
      {
        key: APNS_TOKEN,
        type: "IOS_PUSH",
        status: "SUBSCRIBED",
        groups: [
          { name: "promotions", status: "UNSUBSCRIBED" },
          { name: "orders", status: "subscribed" },
          { name: "news", status: "who knows" },
          { status: "SUBSCRIBED" },
          null,
        ],
      },
    ]);
    expect(change.categories).toEqual({ promotions: false, orders: true });
  });

  it("when a WEB_PUSH key is the JSON text of a subscription, then a Web Push device with that subscription is registered", () => {
    const change = withSubscriptions([
      {
        key: JSON.stringify(SUBSCRIPTION),
        type: "WEB_PUSH",
        status: "SUBSCRIBED",
      },
    ]);
    expect(change.devices).toEqual([
      {
        platform: "webpush",
        token: SUBSCRIPTION.endpoint,
        subscription: SUBSCRIPTION,
        status: "active",
        locale: undefined,
      },
    ]);
  });

  it("when a WEB_PUSH key is a bare endpoint, then a device without a subscription is named", () => {
    const change = withSubscriptions([
      { key: SUBSCRIPTION.endpoint, type: "WEB_PUSH", status: "UNSUBSCRIBED" },
    ]);
    expect(change.devices).toEqual([
      {
        platform: "webpush",
        token: SUBSCRIPTION.endpoint,
        status: "unsubscribed",
        locale: undefined,
      },
    ]);
  });

  it.each([
    ["invalid JSON", "{not json"],
    [
      "a subscription without keys",
      JSON.stringify({ endpoint: SUBSCRIPTION.endpoint }),
    ],
    [
      "a plain-http endpoint",
      JSON.stringify({
        ...SUBSCRIPTION,
        endpoint: "http://push.example.com/x",
      }),
    ],
  ])("when a WEB_PUSH key is %s, then it is skipped", (_, key) => {
    expect(
      withSubscriptions([{ key, type: "WEB_PUSH", status: "SUBSCRIBED" }])
        .devices,
    ).toEqual([]);
  });
});

describe("changesOfEvent: Web Push events", () => {
  it("when Web Push Subscribed carries a subscription, then an active Web Push device is registered", () => {
    const change = changesOf({
      type: "track",
      event: "Web Push Subscribed",
      properties: { subscription: SUBSCRIPTION },
      context: { locale: "fr-FR" },
    });
    expect(change.devices).toEqual([
      {
        platform: "webpush",
        token: SUBSCRIPTION.endpoint,
        subscription: SUBSCRIPTION,
        status: "active",
        locale: "fr-FR",
      },
    ]);
  });

  it("when Web Push Unsubscribed carries a subscription, then the device is marked unsubscribed", () => {
    const change = changesOf({
      type: "track",
      event: "web push unsubscribed",
      properties: { subscription: SUBSCRIPTION },
    });
    expect(change.devices.map((device) => device.status)).toEqual([
      "unsubscribed",
    ]);
  });

  it("when the subscription arrives as JSON text, then it is read", () => {
    const change = changesOf({
      type: "track",
      event: "Web Push Subscribed",
      properties: { subscription: JSON.stringify(SUBSCRIPTION) },
    });
    expect(change.devices.map((device) => device.token)).toEqual([
      SUBSCRIPTION.endpoint,
    ]);
  });

  it("when the subscription lacks its auth key, then no device is registered", () => {
    const change = changesOf({
      type: "track",
      event: "Web Push Subscribed",
      properties: {
        subscription: { ...SUBSCRIPTION, keys: { p256dh: "x", auth: "" } },
      },
    });
    expect(change.devices).toEqual([]);
  });

  it("when another track event carries a subscription, then it is ignored", () => {
    const change = changesOf({
      type: "track",
      event: "Product Viewed",
      properties: { subscription: SUBSCRIPTION },
    });
    expect(change.devices).toEqual([]);
  });
});

describe("changesOfEvent: saved items", () => {
  it("when a product is added to the wishlist, then an add for its key is recorded with the properties", () => {
    const properties = { product_id: "p1", name: "Lamp", price: 30 };
    const change = changesOf({
      type: "track",
      event: "Product Added to Wishlist",
      properties,
    });
    expect(change.savedItems).toEqual([
      { collection: "wishlist", key: "p1", op: "add", properties },
    ]);
  });

  it("when a product is removed from the wishlist, then a remove is recorded", () => {
    const change = changesOf({
      type: "track",
      event: "Product Removed from Wishlist",
      properties: { product_id: "p1" },
    });
    expect(change.savedItems).toEqual([
      {
        collection: "wishlist",
        key: "p1",
        op: "remove",
        properties: { product_id: "p1" },
      },
    ]);
  });

  it("when the key is a number, then it is recorded as a string", () => {
    const change = changesOf({
      type: "track",
      event: "Product Added to Wishlist",
      properties: { product_id: 42 },
    });
    expect(change.savedItems.map((item) => item.key)).toEqual(["42"]);
  });

  it.each([
    ["missing", {}],
    ["an object", { product_id: { id: "p1" } }],
    ["null", { product_id: null }],
  ])("when the key is %s, then the item is skipped", (_, properties) => {
    const change = changesOf({
      type: "track",
      event: "Product Added to Wishlist",
      properties,
    });
    expect(change.savedItems).toEqual([]);
  });

  it("when an unrelated event names a product, then no saved item changes", () => {
    const change = changesOf({
      type: "track",
      event: "Product Viewed",
      properties: { product_id: "p1" },
    });
    expect(change.savedItems).toEqual([]);
  });
});

describe("foldProfileChange", () => {
  const earlier: ProfileChange = {
    ...emptyProfileChange(),
    traits: { plan: "free", name: "Ada" },
    groups: { g1: { n: 1 } },
    timezone: { value: "Europe/Berlin", source: "context" },
    locale: { value: "de-DE", source: "context" },
    optOut: true,
    categories: { promotions: false, orders: true },
    devices: [{ platform: "apns", token: "first" }],
    savedItems: [
      { collection: "wishlist", key: "p1", op: "add", properties: {} },
    ],
  };

  it("when a later change sets values, then the later values win and lists append in order", () => {
    const later: ProfileChange = {
      ...emptyProfileChange(),
      traits: { plan: "pro" },
      groups: { g2: { n: 2 } },
      timezone: { value: "Asia/Tokyo", source: "context" },
      locale: { value: "ja-JP", source: "context" },
      optOut: false,
      categories: { promotions: true },
      devices: [{ platform: "fcm", token: "second" }],
      savedItems: [
        { collection: "wishlist", key: "p1", op: "remove", properties: {} },
      ],
    };
    expect(foldProfileChange(earlier, later)).toEqual({
      traits: { plan: "pro", name: "Ada" },
      groups: { g1: { n: 1 }, g2: { n: 2 } },
      timezone: { value: "Asia/Tokyo", source: "context" },
      locale: { value: "ja-JP", source: "context" },
      optOut: false,
      categories: { promotions: true, orders: true },
      devices: [
        { platform: "apns", token: "first" },
        { platform: "fcm", token: "second" },
      ],
      savedItems: [
        { collection: "wishlist", key: "p1", op: "add", properties: {} },
        { collection: "wishlist", key: "p1", op: "remove", properties: {} },
      ],
    });
  });

  it("when the later change leaves values unset, then the earlier values stay", () => {
    expect(foldProfileChange(earlier, emptyProfileChange())).toEqual(earlier);
  });

  it("when two changes are folded, then neither input is modified", () => {
    const snapshot = structuredClone(earlier);
    const later = emptyProfileChange();
    later.devices.push({ platform: "fcm", token: "x" });
    foldProfileChange(earlier, later);
    expect(earlier).toEqual(snapshot);
    expect(later.devices).toHaveLength(1);
  });

  it("when events are folded in order, then the last event's opt-out wins", () => {
    const changes = [
      identify({ push_opt_out: true }),
      identify({ plan: "pro" }),
      identify({ push_opt_out: false }),
    ];
    const folded = changes.reduce(foldProfileChange, emptyProfileChange());
    expect(folded.optOut).toBe(false);
    expect(folded.traits).toEqual({
      push_opt_out: false,
      plan: "pro",
    });
  });
});
