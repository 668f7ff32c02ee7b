import { DeviceStatus, Platform, type JsonObject } from "../db/schema.ts";
import type {
  DeviceChange,
  ProfileChange,
} from "../profiles/profile-changes.ts";
import { MAX_CATEGORY_LENGTH } from "./input-limits.ts";
import type { SegmentEvent } from "../segment-event.ts";
import { WarningCode, type Warn } from "./event-warnings.ts";
import { mobileDevice, webPushDevice } from "./device-tokens.ts";

/*
 * The devices a call registers or unsubscribes, and the subscription groups it sets:
 * from `context.device`, Engage's `context.messaging_subscriptions` and the
 * `Web Push Subscribed` / `Unsubscribed` events. Whether each token can be sent to is
 * decided in device-tokens.ts. What cannot be used is skipped and reported through `warn`.
 */

const PUSH_SUBSCRIPTION_TYPES: Record<string, Platform> = {
  IOS_PUSH: Platform.apns,
  ANDROID_PUSH: Platform.fcm,
  WEB_PUSH: Platform.webpush,
};

/** Engage's channels that are not push: Nudge has nothing to do with them. */
const OTHER_SUBSCRIPTION_TYPES = new Set(["EMAIL", "SMS", "WHATSAPP"]);

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
