import { DeviceStatus, Platform, type JsonObject } from "../db/schema.ts";
import type {
  DeviceChange,
  ProfileChange,
} from "../profiles/profile-changes.ts";
import {
  fitsBytes,
  MAX_CATEGORY_LENGTH,
  MAX_DEVICE_TOKEN_BYTES,
} from "./input-limits.ts";
import type { SegmentEvent } from "../segment-event.ts";
import { nestedTooDeep, storable } from "./storable-value.ts";
import { WarningCode, type Warn } from "./event-warnings.ts";

/*
 * The devices a call registers or unsubscribes, and the subscription groups it sets:
 * from `context.device`, Engage's `context.messaging_subscriptions` and the
 * `Web Push Subscribed` / `Unsubscribed` events. What cannot be used is skipped and
 * reported through `warn`.
 */

const PUSH_SUBSCRIPTION_TYPES: Record<string, Platform> = {
  IOS_PUSH: Platform.apns,
  ANDROID_PUSH: Platform.fcm,
  WEB_PUSH: Platform.webpush,
};

/** Engage's channels that are not push: Nudge has nothing to do with them. */
const OTHER_SUBSCRIPTION_TYPES = new Set(["EMAIL", "SMS", "WHATSAPP"]);

/** APNs device tokens are hex; an iOS app using the Firebase SDK reports an FCM token instead. */
const APNS_TOKEN = /^[0-9a-f]{64,200}$/i;
/** FCM tokens are never all hex: one that is, is a (possibly cut) APNs token. */
const HEX = /^[0-9a-f]+$/i;

/** Adds the call's devices and subscription groups to `change`. */
export function readDevices(
  event: SegmentEvent,
  locale: string | undefined,
  change: ProfileChange,
  warn: Warn,
): void {
  const found: DeviceChange[] = [];
  const device = contextDevice(event.context, warn);
  if (device !== undefined) found.push(device);
  readMessagingSubscriptions(
    event.context.messaging_subscriptions,
    found,
    change,
    warn,
  );
  if (event.type === "track") readWebPushEvent(event, found, warn);
  for (const d of found) change.devices.push({ ...d, locale });
}

/**
 * Whether a token or endpoint fits its index (input-limits.ts). No push could reach a
 * longer one: it is skipped, and the rest of the call still counts.
 */
function fitsIndex(token: string, platform: Platform, warn: Warn): boolean {
  if (fitsBytes(token, MAX_DEVICE_TOKEN_BYTES)) return true;
  warn(
    WarningCode.deviceTokenTooLong,
    `A ${platform} ${platform === Platform.webpush ? "endpoint" : "token"} of more than ${String(MAX_DEVICE_TOKEN_BYTES)} bytes was ignored: send it as the platform's SDK or the browser gives it.`,
  );
  return false;
}

function contextDevice(
  context: JsonObject,
  warn: Warn,
): DeviceChange | undefined {
  const device = context.device;
  if (typeof device !== "object" || device === null) return undefined;
  const { token, type } = device as { token?: unknown; type?: unknown };
  if (typeof token !== "string" || token.trim() === "") return undefined;
  const kind = typeof type === "string" ? type.toLowerCase() : undefined;
  if (kind === "android") return mobileDevice(Platform.fcm, token, warn);
  if (kind === "ios") return mobileDevice(Platform.apns, token, warn);
  warn(
    WarningCode.deviceTypeUnknown,
    `context.device.token was ignored: context.device.type is ${JSON.stringify(type ?? null)}; set it to "ios" (APNs) or "android" (FCM).`,
  );
  return undefined;
}

/**
 * An iOS or Android token as the platform it will be sent through. An iOS token that
 * is not hex is an FCM token from the Firebase SDK; a hex one shorter than an APNs
 * token, or a hex one said to be Android's, would only fail at send time.
 */
function mobileDevice(
  said: typeof Platform.apns | typeof Platform.fcm,
  raw: string,
  warn: Warn,
): DeviceChange | undefined {
  const token = raw.trim();
  if (!fitsIndex(token, said, warn)) return undefined;
  if (said === Platform.apns && APNS_TOKEN.test(token))
    return { platform: Platform.apns, token };
  if (!HEX.test(token)) return { platform: Platform.fcm, token };
  warn(
    WarningCode.deviceTokenMalformed,
    said === Platform.apns
      ? `An iOS token of ${String(token.length)} hex digits was ignored: an APNs device token is 64 hex digits; send it whole, as the app's didRegisterForRemoteNotifications gives it.`
      : "An Android token of hex digits only was ignored: it looks like an APNs token; send it with type ios (IOS_PUSH), or send the FCM registration token.",
  );
  return undefined;
}

/** Engage's `context.messaging_subscriptions`: push channels become devices, groups preferences. */
function readMessagingSubscriptions(
  value: unknown,
  found: DeviceChange[],
  change: ProfileChange,
  warn: Warn,
): void {
  if (!Array.isArray(value)) return;
  (value as unknown[]).forEach((entry, i) => {
    if (typeof entry !== "object" || entry === null) return;
    const at = `context.messaging_subscriptions[${String(i)}]`;
    const { key, type, status, groups } = entry as Record<string, unknown>;
    const channel = typeof type === "string" ? type.toUpperCase() : "";
    const platform = PUSH_SUBSCRIPTION_TYPES[channel];
    if (platform === undefined) {
      if (!OTHER_SUBSCRIPTION_TYPES.has(channel))
        warn(
          WarningCode.subscriptionTypeUnknown,
          `${at} was ignored: its type ${JSON.stringify(type ?? null)} is none of IOS_PUSH, ANDROID_PUSH, WEB_PUSH (or Engage's EMAIL, SMS, WHATSAPP).`,
        );
      return;
    }
    const subscribed = subscriptionStatus(status);
    if (subscribed === undefined) {
      warn(
        WarningCode.subscriptionStatusUnknown,
        `${at} was ignored: its status ${JSON.stringify(status ?? null)} is none of SUBSCRIBED, UNSUBSCRIBED, DID_NOT_SUBSCRIBE.`,
      );
      return;
    }
    if (typeof key !== "string" || key.trim() === "") {
      warn(
        WarningCode.subscriptionKeyMissing,
        `${at} was ignored: its key, the device token or Web Push subscription, is missing.`,
      );
      return;
    }
    // The same token must map to the same device as on context.device.
    const device =
      platform === Platform.webpush
        ? webPushDevice(key, warn)
        : mobileDevice(platform, key, warn);
    if (device === undefined) return;
    found.push({
      ...device,
      status: subscribed ? DeviceStatus.active : DeviceStatus.unsubscribed,
    });
    if (Array.isArray(groups)) readGroups(groups as unknown[], change);
  });
}

function readGroups(groups: readonly unknown[], change: ProfileChange): void {
  for (const group of groups) {
    if (typeof group !== "object" || group === null) continue;
    const { name, status } = group as Record<string, unknown>;
    const optedIn = subscriptionStatus(status);
    // A longer name can never be a declared category: it is not kept.
    if (
      typeof name === "string" &&
      name.length <= MAX_CATEGORY_LENGTH &&
      optedIn !== undefined
    )
      change.categories[name] = optedIn;
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
  found: DeviceChange[],
  warn: Warn,
): void {
  const name = event.event?.toLowerCase();
  if (name !== "web push subscribed" && name !== "web push unsubscribed")
    return;
  const device = webPushDevice(event.properties.subscription, warn);
  if (device === undefined) return;
  const status =
    name === "web push subscribed"
      ? DeviceStatus.active
      : DeviceStatus.unsubscribed;
  found.push({ ...device, status });
}

/**
 * A Web Push subscription as an object or its JSON text. A bare endpoint is accepted to
 * change the status of a known subscription, but cannot create one: without its keys
 * nothing can be sent to it.
 */
export function webPushDevice(
  value: unknown,
  warn: Warn,
): DeviceChange | undefined {
  let subscription = value;
  if (typeof value === "string") {
    if (/^https:\/\//.test(value.trim()))
      return fitsIndex(value.trim(), Platform.webpush, warn)
        ? { platform: Platform.webpush, token: value.trim() }
        : undefined;
    subscription = /^http:\/\//.test(value.trim())
      ? { endpoint: value.trim() }
      : parseStorableJson(value);
  }
  const problem = pushSubscriptionProblem(subscription);
  if (problem === undefined) {
    const { endpoint } = subscription as PushSubscription;
    if (!fitsIndex(endpoint, Platform.webpush, warn)) return undefined;
    return {
      platform: Platform.webpush,
      token: (subscription as PushSubscription).endpoint,
      subscription: subscription as PushSubscription,
    };
  }
  warn(problem.code, problem.message);
  return undefined;
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
  return pushSubscriptionProblem(value) === undefined;
}

/** Why `value` is not a PushSubscription Nudge can send to, if it is not. */
function pushSubscriptionProblem(
  value: unknown,
): { code: WarningCode; message: string } | undefined {
  const { endpoint, keys } =
    typeof value === "object" && value !== null
      ? (value as { endpoint?: unknown; keys?: unknown })
      : {};
  if (typeof endpoint !== "string")
    return {
      code: WarningCode.webPushSubscriptionInvalid,
      message:
        "The Web Push subscription was ignored: send the browser's PushSubscription (subscription.toJSON(): {endpoint, keys: {p256dh, auth}}) as an object or its JSON text.",
    };
  if (!/^https:\/\//.test(endpoint))
    return {
      code: WarningCode.webPushEndpointNotHttps,
      message:
        "The Web Push subscription was ignored: its endpoint is not an https:// URL, and push services are only reached over https; send the endpoint the browser's PushSubscription gives.",
    };
  const { p256dh, auth } =
    typeof keys === "object" && keys !== null
      ? (keys as { p256dh?: unknown; auth?: unknown })
      : {};
  if (
    typeof p256dh !== "string" ||
    p256dh === "" ||
    typeof auth !== "string" ||
    auth === ""
  )
    return {
      code: WarningCode.webPushKeysMissing,
      message:
        "The Web Push subscription was ignored: it has no keys.p256dh and keys.auth, without which no push can be encrypted for it; send the whole PushSubscription (subscription.toJSON()).",
    };
  return undefined;
}
