import { DeviceStatus, Platform, type JsonObject } from "../db/schema.ts";
import {
  emptyProfileChange,
  type DeviceChange,
  type ProfileChange,
} from "../profiles/profile-changes.ts";
import { matchesCondition, readPath } from "../rules/condition.ts";
import type { Collection, RuleBook } from "../rules/rule-book.ts";
import {
  fitsBytes,
  MAX_CATEGORY_LENGTH,
  MAX_DEVICE_TOKEN_BYTES,
  MAX_ITEM_KEY_BYTES,
} from "./input-limits.ts";
import type { EventProblem, SegmentEvent } from "./segment-event.schema.ts";
import { nestedTooDeep, storable } from "./storable-value.ts";
import { deviceLocale, sourcedSetting } from "./timezone-locale.ts";

const PUSH_SUBSCRIPTION_TYPES: Record<string, Platform> = {
  IOS_PUSH: Platform.apns,
  ANDROID_PUSH: Platform.fcm,
  WEB_PUSH: Platform.webpush,
};

/** APNs device tokens are hex; an iOS app using the Firebase SDK reports an FCM token instead. */
const APNS_TOKEN = /^[0-9a-f]{64,200}$/i;

/** What one event says about its user's profile, devices, preferences and saved items. */
export function changesOfEvent(
  event: SegmentEvent,
  book: RuleBook,
): ProfileChange {
  const change = emptyProfileChange();
  const { context, traits } = event;
  const locale = deviceLocale(event);
  change.timezone = sourcedSetting(event, "timezone");
  change.locale = sourcedSetting(event, "locale");

  if (event.type === "identify") {
    change.traits = traits;
    readTraitPreferences(traits, book, change);
  }
  if (event.type === "group" && event.groupId !== undefined) {
    change.groups = { [event.groupId]: traits };
  }

  const device = contextDevice(context, locale);
  if (device !== undefined) change.devices.push(device);
  readMessagingSubscriptions(context.messaging_subscriptions, locale, change);
  if (event.type === "track") readWebPushEvent(event, locale, change);
  readSavedItems(event, book, change);
  // No push could reach a token too long to index: the rest of the call still counts.
  change.devices = change.devices.filter((d) =>
    fitsBytes(d.token, MAX_DEVICE_TOKEN_BYTES),
  );
  return change;
}

function contextDevice(
  context: JsonObject,
  locale: string | undefined,
): DeviceChange | undefined {
  const device = context.device;
  if (typeof device !== "object" || device === null) return undefined;
  const { token, type } = device as { token?: unknown; type?: unknown };
  if (
    typeof token !== "string" ||
    token.trim() === "" ||
    typeof type !== "string"
  )
    return undefined;
  const kind = type.toLowerCase();
  if (kind === "android")
    return { platform: Platform.fcm, token: token.trim(), locale };
  if (kind === "ios")
    return { platform: iosPlatform(token.trim()), token: token.trim(), locale };
  return undefined;
}

function iosPlatform(token: string): Platform {
  return APNS_TOKEN.test(token) ? Platform.apns : Platform.fcm;
}

/** Engage's `context.messaging_subscriptions`: push channels become devices, groups preferences. */
function readMessagingSubscriptions(
  value: unknown,
  locale: string | undefined,
  change: ProfileChange,
): void {
  if (!Array.isArray(value)) return;
  for (const entry of value as unknown[]) {
    if (typeof entry !== "object" || entry === null) continue;
    const { key, type, status, groups } = entry as Record<string, unknown>;
    const platform =
      typeof type === "string"
        ? PUSH_SUBSCRIPTION_TYPES[type.toUpperCase()]
        : undefined;
    const subscribed = subscriptionStatus(status);
    if (
      platform === undefined ||
      subscribed === undefined ||
      typeof key !== "string"
    )
      continue;
    // The same token must map to the same device as on context.device.
    const device =
      platform === Platform.webpush
        ? webPushDevice(key)
        : platform === Platform.apns
          ? { platform: iosPlatform(key.trim()), token: key.trim() }
          : { platform, token: key.trim() };
    if (device === undefined || device.token === "") continue;
    change.devices.push({
      ...device,
      status: subscribed ? DeviceStatus.active : DeviceStatus.unsubscribed,
      locale,
    });
    if (!Array.isArray(groups)) continue;
    for (const group of groups as unknown[]) {
      if (typeof group !== "object" || group === null) continue;
      const { name, status: groupStatus } = group as Record<string, unknown>;
      const optedIn = subscriptionStatus(groupStatus);
      // A longer name can never be a declared category: it is not kept.
      if (
        typeof name === "string" &&
        name.length <= MAX_CATEGORY_LENGTH &&
        optedIn !== undefined
      )
        change.categories[name] = optedIn;
    }
  }
}

function subscriptionStatus(status: unknown): boolean | undefined {
  if (typeof status !== "string") return undefined;
  switch (status.toUpperCase()) {
    case "SUBSCRIBED":
      return true;
    case "UNSUBSCRIBED":
    case "DID_NOT_SUBSCRIBE":
      return false;
    default:
      return undefined;
  }
}

/** `Web Push Subscribed` / `Web Push Unsubscribed` carry the browser's PushSubscription. */
function readWebPushEvent(
  event: SegmentEvent,
  locale: string | undefined,
  change: ProfileChange,
): void {
  const name = event.event?.toLowerCase();
  if (name !== "web push subscribed" && name !== "web push unsubscribed")
    return;
  const device = webPushDevice(event.properties.subscription);
  if (device === undefined) return;
  const status =
    name === "web push subscribed"
      ? DeviceStatus.active
      : DeviceStatus.unsubscribed;
  change.devices.push({ ...device, status, locale });
}

/**
 * A Web Push subscription as an object or its JSON text. A bare endpoint is accepted to
 * change the status of a known subscription, but cannot create one: without its keys
 * nothing can be sent to it.
 */
export function webPushDevice(value: unknown): DeviceChange | undefined {
  let subscription = value;
  if (typeof value === "string") {
    if (/^https:\/\//.test(value.trim()))
      return { platform: Platform.webpush, token: value.trim() };
    subscription = parseStorableJson(value);
  }
  if (!isPushSubscription(subscription)) return undefined;
  return {
    platform: Platform.webpush,
    token: subscription.endpoint,
    subscription,
  };
}

/**
 * JSON text carried inside a call, as the call itself is read (storable-input.ts): its
 * escapes may spell a NUL or a lone surrogate, and its nesting may be deeper than JSON
 * functions and PostgreSQL go. Undefined for text that is not JSON or nests too deep.
 */
function parseStorableJson(text: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return nestedTooDeep(parsed) ? undefined : storable(parsed);
}

export type PushSubscription = {
  endpoint: string;
  keys: { p256dh: string; auth: string };
} & JsonObject;

export function isPushSubscription(value: unknown): value is PushSubscription {
  if (typeof value !== "object" || value === null) return false;
  const { endpoint, keys } = value as { endpoint?: unknown; keys?: unknown };
  if (typeof endpoint !== "string" || !/^https:\/\//.test(endpoint))
    return false;
  if (typeof keys !== "object" || keys === null) return false;
  const { p256dh, auth } = keys as { p256dh?: unknown; auth?: unknown };
  return (
    typeof p256dh === "string" &&
    p256dh !== "" &&
    typeof auth === "string" &&
    auth !== ""
  );
}

/** Traits named in the rules file set the global opt-out and category opt-ins. */
function readTraitPreferences(
  traits: JsonObject,
  book: RuleBook,
  change: ProfileChange,
): void {
  const { optOutTrait, categories } = book.settings;
  if (optOutTrait !== undefined)
    change.optOut = traitAnswer(traits[optOutTrait], "out");
  for (const [name, category] of Object.entries(categories)) {
    if (category.trait === undefined) continue;
    const optedIn = traitAnswer(traits[category.trait], "in");
    if (optedIn !== undefined) change.categories[name] = optedIn;
  }
}

/**
 * Reads a yes/no trait that asks "is the user opted in?" or "… opted out?". "yes" answers
 * the question, but "in"/"subscribed" and "out"/"unsubscribed" state the user's status,
 * so they mean opposite things for an opt-in and an opt-out trait.
 */
function traitAnswer(value: unknown, asks: "in" | "out"): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value !== "string") return undefined;
  const text = value.toLowerCase();
  if (["true", "yes", "1"].includes(text)) return true;
  if (["false", "no", "0"].includes(text)) return false;
  if (["in", "subscribed"].includes(text)) return asks === "in";
  if (["out", "unsubscribed"].includes(text)) return asks === "out";
  return undefined;
}

function readSavedItems(
  event: SegmentEvent,
  book: RuleBook,
  change: ProfileChange,
): void {
  for (const collection of book.collections) {
    const op = savedItemOp(collection, event);
    if (op === undefined) continue;
    const key = readPath(event.payload, collection.key);
    if (typeof key !== "string" && typeof key !== "number") continue;
    change.savedItems.push({
      collection: collection.name,
      key: String(key),
      op,
      properties: event.properties,
    });
  }
}

/** Whether the event adds to or removes from the collection, if either. */
function savedItemOp(
  collection: Collection,
  event: SegmentEvent,
): "add" | "remove" | undefined {
  if (matchesCondition(collection.add, event.payload)) return "add";
  return collection.remove !== undefined &&
    matchesCondition(collection.remove, event.payload)
    ? "remove"
    : undefined;
}

/**
 * The keys of saved items this event adds or removes that are too long to store. The
 * call is rejected rather than stored without its item: the item is what it is for,
 * and the sender hears why in the report. Conditions are evaluated only for a key that
 * is too long, so the common call pays for one path lookup per collection.
 */
export function savedItemKeyProblems(
  event: SegmentEvent,
  book: RuleBook,
): EventProblem[] {
  const problems: EventProblem[] = [];
  for (const collection of book.collections) {
    const key = readPath(event.payload, collection.key);
    if (typeof key !== "string" || fitsBytes(key, MAX_ITEM_KEY_BYTES)) continue;
    if (savedItemOp(collection, event) === undefined) continue;
    problems.push({
      path: collection.key,
      message: `is the key of an item of collection "${collection.name}" and must be at most ${String(MAX_ITEM_KEY_BYTES)} bytes (UTF-8)`,
    });
  }
  return problems;
}
