import { actionLinksOf, pushData, type PushMessage } from "./provider.ts";

/** Apple's limit on a (non-VoIP) push's JSON payload, in bytes. */
export const APNS_MAX_PAYLOAD_BYTES = 4096;

/** What APNs gets for one push besides the token and topic: headers and JSON payload. */
export type ApnsRequest = {
  pushType: "alert" | "background";
  /** Apple requires 5 for a background push, and throttles those it deems too many. */
  priority: 5 | 10;
  /** A UUID: well within the 64 bytes APNs allows. */
  collapseId: string;
  /** `apns-expiration`, seconds since the epoch; absent without a ttl. */
  expiration?: number;
  payload: Record<string, unknown>;
};

/**
 * An alert's `aps` but the alert itself: sound, badge, thread-id, mutable-content when
 * there is an image (the app's notification service extension downloads and attaches
 * it), category, interruption-level, relevance-score. Also what FCM hands to APNs for
 * an iOS device.
 */
export function alertAps(push: PushMessage): Record<string, unknown> {
  const options = push.apns ?? {};
  const aps: Record<string, unknown> = {};
  if (push.sound !== undefined) aps.sound = push.sound;
  if (push.badge !== undefined) aps.badge = push.badge;
  aps["thread-id"] = options.threadId ?? push.threadId;
  if (push.image !== undefined) aps["mutable-content"] = 1;
  if (options.category !== undefined) aps.category = options.category;
  if (options.interruptionLevel !== undefined)
    aps["interruption-level"] = options.interruptionLevel;
  if (options.relevanceScore !== undefined)
    aps["relevance-score"] = options.relevanceScore;
  return aps;
}

/**
 * The APNs request for a push: `aps` (alert with subtitle, sound, badge, thread-id,
 * mutable-content when there is an image, category, interruption-level,
 * relevance-score) after `pushData()`, `image_url` and
 * `action_links`. Pure, so that planning measures the very payload that the provider
 * sends.
 *
 * Actions: iOS shows the buttons of the category the app registered under
 * `aps.category` (their titles are the app's); `action_links` maps an action id to
 * the deep link to open when that button is tapped.
 */
export function apnsRequestOf(push: PushMessage): ApnsRequest {
  if (push.silent === true) return backgroundRequestOf(push);
  const options = push.apns ?? {};
  const aps: Record<string, unknown> = {
    alert: {
      title: push.title,
      ...(options.subtitle !== undefined && { subtitle: options.subtitle }),
      body: push.body,
    },
    ...alertAps(push),
  };
  const actionLinks = actionLinksOf(push);
  return {
    pushType: "alert",
    // Apple's 5 sends when the device is awake anyway, saving its battery.
    priority: push.priority === "normal" ? 5 : 10,
    collapseId: push.notificationId,
    // Without a ttl no apns-expiration is sent and Apple stores the push for a device
    // that is offline, as FCM and Web Push keep theirs for weeks: 0 would mean "now or
    // never", lost to any phone that is off when it is sent.
    ...expirationOf(push),
    payload: {
      ...pushData(push),
      ...(push.image === undefined ? {} : { image_url: push.image }),
      ...(actionLinks !== undefined && { action_links: actionLinks }),
      aps,
    },
  };
}

/**
 * A background push: `content-available` alone in `aps` (Apple refuses an alert, sound
 * or badge in one), push type `background`, priority 5.
 */
function backgroundRequestOf(push: PushMessage): ApnsRequest {
  return {
    pushType: "background",
    priority: 5,
    collapseId: push.notificationId,
    ...expirationOf(push),
    payload: { ...pushData(push), aps: { "content-available": 1 } },
  };
}

/** The payload's size as APNs counts it: the UTF-8 bytes of its JSON. */
export function apnsPayloadBytes(push: PushMessage): number {
  return Buffer.byteLength(JSON.stringify(apnsRequestOf(push).payload));
}

function expirationOf(push: PushMessage): { expiration?: number } {
  return push.expiresAt === undefined
    ? {}
    : { expiration: Math.floor(push.expiresAt.getTime() / 1000) };
}
