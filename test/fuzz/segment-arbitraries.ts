import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { CALL_TYPES } from "../../src/segment-event.ts";
import { json, key, text, usually } from "./json-arbitraries.ts";

/*
 * Generators of what a sender may put in a Segment call: real calls (the fixtures)
 * mutated, calls shaped like real ones with odd values where Nudge looks, and JSON of
 * any shape (json-arbitraries.ts).
 */

/** A few ids shared by many calls, so that merges, aliases and erasures meet. */
export const USER_POOL = ["fz-user-a", "fz-user-b", "fz-anon-c", "fz-anon-d"];

/** Tokens shared by many calls, so that devices move between users. */
const TOKEN_POOL = ["ab".repeat(32), "cd".repeat(32), "fcm-token:APA91b-fuzz"];

const FIXTURES = new URL("../fixtures/segment-examples/", import.meta.url);

/** Segment's example calls (the tracking-API batch file contributes its calls). */
export const exampleCalls: Record<string, unknown>[] = readdirSync(FIXTURES)
  .filter((name) => name.endsWith(".json"))
  .flatMap((name) => {
    const json = JSON.parse(readFileSync(new URL(name, FIXTURES), "utf8"));
    return Array.isArray(json.batch) ? json.batch : [json];
  });

export const userId = usually(
  fc.constantFrom(...USER_POOL),
  text,
  fc.integer(),
);

const token = usually(fc.constantFrom(...TOKEN_POOL), text);

export const pushSubscription = fc.record(
  {
    endpoint: usually(
      text.map((t) => `https://push.example.test/${t}`),
      text,
    ),
    keys: usually(fc.record({ p256dh: usually(text), auth: usually(text) })),
  },
  { requiredKeys: [] },
);

const subscriptionStatus = usually(
  fc.constantFrom(
    "SUBSCRIBED",
    "UNSUBSCRIBED",
    "DID_NOT_SUBSCRIBE",
    "subscribed",
    "maybe",
  ),
);

const messagingSubscription = fc.record(
  {
    key: usually(
      token,
      pushSubscription.map((s) => JSON.stringify(s)),
    ),
    type: usually(
      fc.constantFrom(
        "IOS_PUSH",
        "ANDROID_PUSH",
        "WEB_PUSH",
        "EMAIL",
        "ios_push",
      ),
    ),
    status: subscriptionStatus,
    groups: usually(
      fc.array(
        fc.record({
          name: usually(fc.constantFrom("promotions", "orders"), text),
          status: subscriptionStatus,
        }),
        { maxLength: 3 },
      ),
    ),
  },
  { requiredKeys: [] },
);

const context = fc.record(
  {
    device: usually(
      fc.record(
        {
          type: usually(fc.constantFrom("ios", "android", "IOS", "macos")),
          token,
        },
        { requiredKeys: [] },
      ),
    ),
    messaging_subscriptions: usually(
      fc.array(messagingSubscription, { maxLength: 3 }),
    ),
    timezone: usually(fc.constantFrom("Europe/Berlin", "Not/A_Zone", ""), text),
    locale: usually(fc.constantFrom("de-AT", "en", "x"), text),
  },
  { requiredKeys: [] },
);

const eventName = usually(
  fc.constantFrom(
    "Product Added to Wishlist",
    "Product Removed from Wishlist",
    "Product Updated",
    "Product Added",
    "Order Completed",
    "Push Notification Tapped",
    "Push Opened",
    "Web Push Subscribed",
    "Web Push Unsubscribed",
  ),
  text,
);

const properties = fc.record(
  {
    product_id: usually(fc.constantFrom("p-1", "p-2"), text, fc.integer()),
    on_sale: usually(fc.constant(true)),
    name: usually(text),
    price: usually(fc.double(), text),
    nudge_id: usually(fc.uuid(), text),
    campaign: json,
    subscription: usually(
      pushSubscription,
      pushSubscription.map((s) => JSON.stringify(s)),
    ),
  },
  { requiredKeys: [] },
);

const traits = fc.record(
  {
    name: usually(text),
    push_opt_out: usually(
      fc.boolean(),
      fc.constantFrom("yes", "no", "in", "out"),
    ),
    promotions_opt_in: usually(
      fc.boolean(),
      fc.constantFrom("subscribed", "0"),
    ),
    timezone: usually(fc.constantFrom("America/New_York", "Mars/Olympus")),
  },
  { requiredKeys: [] },
);

const callType = usually(fc.constantFrom(...CALL_TYPES, "TRACK"));

/** A call shaped like a real one, with odd values where Nudge reads it. */
const plausibleCall = fc.record(
  {
    type: callType,
    messageId: usually(fc.uuid(), text, fc.integer()),
    userId,
    anonymousId: userId,
    previousId: userId,
    groupId: usually(text),
    event: eventName,
    name: usually(text),
    properties,
    traits,
    context,
    timestamp: usually(
      fc.date().map((d) => (Number.isNaN(d.getTime()) ? "" : d.toISOString())),
      text,
    ),
    version: usually(fc.constantFrom(1, 2, "1.1")),
  },
  { requiredKeys: ["type"] },
);

const fieldPath = fc.oneof(
  fc.constantFrom(
    ["type"],
    ["userId"],
    ["messageId"],
    ["properties"],
    ["properties", "product_id"],
    ["traits"],
    ["context"],
    ["context", "device", "token"],
    ["context", "messaging_subscriptions"],
    ["timestamp"],
  ),
  key.map((k) => [k]),
);

/** A fixture, as one of the pool's users, with a few fields set to anything or removed. */
const mutatedExample = fc
  .tuple(
    fc.constantFrom(...exampleCalls),
    fc.uuid(),
    fc.constantFrom(...USER_POOL),
    fc.array(fc.tuple(fieldPath, fc.option(json, { nil: undefined })), {
      maxLength: 4,
    }),
  )
  .map(([example, messageId, user, changes]) => {
    const call = { ...structuredClone(example), messageId, userId: user };
    for (const [path, value] of changes) setPath(call, path, value);
    return call;
  });

/** Sets (or, with undefined, removes) the value at `path`, making objects on the way. */
function setPath(
  target: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): void {
  let node = target;
  for (const part of path.slice(0, -1)) {
    const next = Object.hasOwn(node, part) ? node[part] : undefined;
    const child = typeof next === "object" && next !== null ? next : {};
    Object.defineProperty(node, part, {
      value: child,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    node = child as Record<string, unknown>;
  }
  const last = path.at(-1) ?? "";
  if (value === undefined) Reflect.deleteProperty(node, last);
  else
    Object.defineProperty(node, last, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
}

/** Anything a sender might post as one call. */
export const call: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: plausibleCall },
  { weight: 3, arbitrary: mutatedExample },
  { weight: 1, arbitrary: json },
);
