import { Platform, type JsonObject } from "../db/schema.ts";
import type { DeviceChange } from "../profiles/profile-changes.ts";
import { fitsBytes, MAX_DEVICE_TOKEN_BYTES } from "./input-limits.ts";
import { nestedTooDeep, storable } from "./storable-value.ts";
import { WarningCode, type Warn } from "./event-warnings.ts";

/*
 * Whether a token or Web Push subscription, wherever in a call it was found
 * (device-changes.ts), is one Nudge can send to, and the device it becomes. What cannot
 * be used is skipped and reported through `warn`, so the rest of the call still counts.
 */

/** APNs device tokens are hex; an iOS app using the Firebase SDK reports an FCM token instead. */
const APNS_TOKEN = /^[0-9a-f]{64,200}$/i;
/** FCM tokens are never all hex: one that is, is a (possibly cut) APNs token. */
const HEX = /^[0-9a-f]+$/i;

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

/**
 * An iOS or Android token as the platform it will be sent through. An iOS token that
 * is not hex is an FCM token from the Firebase SDK; a hex one shorter than an APNs
 * token, or a hex one said to be Android's, would only fail at send time.
 */
export function mobileDevice(
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
