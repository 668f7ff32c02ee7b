import { alertAps } from "./apns-payload.ts";
import {
  actionLinksOf,
  pushData,
  type PushAction,
  type PushMessage,
} from "./provider.ts";

/** FCM's limit on a message's `notification` and `data`, in bytes of JSON. */
export const FCM_MAX_PAYLOAD_BYTES = 4096;

/** An FCM HTTP v1 `Message`, as Nudge fills it. */
export type FcmMessage = {
  token: string;
  /** Absent for a silent push: a data-only message, handed to the app. */
  notification?: { title: string; body: string; image?: string };
  data: Record<string, string>;
  android: {
    collapse_key: string;
    priority: "high" | "normal";
    ttl?: string;
    notification?: {
      tag: string;
      sound?: string;
      channel_id?: string;
      color?: string;
      icon?: string;
    };
  };
  apns: {
    headers: Record<string, string>;
    payload: { aps: Record<string, unknown>; action_links?: unknown };
  };
  webpush: { headers?: { TTL: string }; fcm_options?: { link: string } };
};

/** Four weeks: the longest FCM keeps a message. */
const MAX_TTL_SECONDS = 28 * 24 * 3600;

/**
 * The FCM message for a push; `ttl` in seconds, or undefined for FCM's default of four
 * weeks. The deep link travels in `data.deep_link` for the apps to open.
 */
export function fcmMessageOf(
  push: PushMessage & { token: string },
  ttl: number | undefined,
): FcmMessage {
  if (push.silent === true) return dataMessageOf(push, ttl);
  if (push.actions !== undefined)
    return actionMessageOf(push, push.actions, ttl);
  const link = push.deepLink?.startsWith("https://") ? push.deepLink : null;
  return {
    token: push.token,
    notification: {
      title: push.title,
      body: push.body,
      ...(push.image !== undefined && { image: push.image }),
    },
    data: pushData(push),
    android: {
      // FCM keeps at most four collapse keys per offline device, so a device away for
      // long gets only some of our pushes; in return a send retried after a lost
      // answer replaces the first copy instead of showing twice.
      collapse_key: push.notificationId,
      priority: androidPriorityOf(push),
      ...(ttl !== undefined && { ttl: `${ttl}s` }),
      notification: {
        tag: push.fcm?.tag ?? push.threadId,
        ...(push.sound !== undefined && { sound: push.sound }),
        ...androidLooksOf(push),
      },
    },
    apns: { headers: apnsHeadersOf(push), payload: { aps: alertAps(push) } },
    webpush: {
      ...(ttl !== undefined && { headers: { TTL: String(ttl) } }),
      // FCM refuses a link that is not https.
      ...(link !== null && { fcm_options: { link } }),
    },
  };
}

/**
 * A push with actions as a data message: Android draws a notification message by
 * itself while the app is in the background, and cannot put buttons on it, so the
 * app's `FirebaseMessagingService.onMessageReceived` gets the data and draws it:
 * `title`, `body`, `image`, `tag`, `channel_id`, `color`, `icon` and `actions`, a JSON
 * string of `[{id, title, deep_link?, foreground?, destructive?}]`. High priority
 * unless the message says otherwise, as it shows a notification. iOS gets an alert in
 * the category that holds the buttons.
 */
function actionMessageOf(
  push: PushMessage & { token: string },
  actions: readonly PushAction[],
  ttl: number | undefined,
): FcmMessage {
  const actionLinks = actionLinksOf(push);
  return {
    token: push.token,
    data: {
      ...pushData(push),
      title: push.title,
      body: push.body,
      ...(push.image !== undefined && { image: push.image }),
      tag: push.fcm?.tag ?? push.threadId,
      ...androidLooksOf(push),
      actions: JSON.stringify(actions.map(wireAction)),
    },
    android: {
      collapse_key: push.notificationId,
      priority: androidPriorityOf(push),
      ...(ttl !== undefined && { ttl: `${ttl}s` }),
    },
    apns: {
      headers: apnsHeadersOf(push),
      payload: {
        aps: { alert: alertOf(push), ...alertAps(push) },
        ...(actionLinks !== undefined && { action_links: actionLinks }),
      },
    },
    webpush: { ...(ttl !== undefined && { headers: { TTL: String(ttl) } }) },
  };
}

/** An action as the app's handler reads it from `data.actions`. */
function wireAction(action: PushAction) {
  return {
    id: action.id,
    title: action.title,
    ...(action.deepLink !== undefined && { deep_link: action.deepLink }),
    ...(action.foreground === true && { foreground: true }),
    ...(action.destructive === true && { destructive: true }),
  };
}

/** FCM's own priority option, else the message's, else high. */
function androidPriorityOf(push: PushMessage): "high" | "normal" {
  return push.fcm?.priority ?? push.priority ?? "high";
}

/** The channel, accent colour and small icon of an Android notification. */
function androidLooksOf(push: PushMessage) {
  const { channelId, color, icon } = push.fcm ?? {};
  return {
    ...(channelId !== undefined && { channel_id: channelId }),
    ...(color !== undefined && { color }),
    ...(icon !== undefined && { icon }),
  };
}

function alertOf(push: PushMessage): Record<string, string> {
  const subtitle = push.apns?.subtitle;
  return {
    title: push.title,
    ...(subtitle !== undefined && { subtitle }),
    body: push.body,
  };
}

function apnsHeadersOf(push: PushMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  if (push.silent !== true && push.priority === "normal")
    headers["apns-priority"] = "5";
  // APNs refuses a collapse id over 64 bytes; ours are UUIDs, but it must never fail.
  if (Buffer.byteLength(push.notificationId) <= 64)
    headers["apns-collapse-id"] = push.notificationId;
  if (push.expiresAt !== undefined)
    headers["apns-expiration"] = String(
      Math.floor(push.expiresAt.getTime() / 1000),
    );
  return headers;
}

/**
 * A silent push as a data-only message: no `notification`, so Android hands the data
 * to the app's messaging service instead of showing it, at normal priority (Android
 * demotes high-priority messages that show nothing); on iOS a background push, as
 * Apple requires one: `content-available` alone, push type background, priority 5.
 */
function dataMessageOf(
  push: PushMessage & { token: string },
  ttl: number | undefined,
): FcmMessage {
  const apnsHeaders: Record<string, string> = {
    "apns-push-type": "background",
    "apns-priority": "5",
    ...apnsHeadersOf(push),
  };
  return {
    token: push.token,
    data: pushData(push),
    android: {
      collapse_key: push.notificationId,
      priority: "normal",
      ...(ttl !== undefined && { ttl: `${ttl}s` }),
    },
    apns: {
      headers: apnsHeaders,
      payload: { aps: { "content-available": 1 } },
    },
    webpush: { ...(ttl !== undefined && { headers: { TTL: String(ttl) } }) },
  };
}

/** Seconds until `expiresAt` (0 once past, at most four weeks); undefined without. */
export function ttlSeconds(expiresAt: Date | undefined, now: Date) {
  if (expiresAt === undefined) return undefined;
  const seconds = Math.ceil((expiresAt.getTime() - now.getTime()) / 1000);
  return Math.min(Math.max(seconds, 0), MAX_TTL_SECONDS);
}

/**
 * The size FCM's limit applies to: the JSON of the message's `notification` and
 * `data`, the parts a device is handed.
 */
export function fcmPayloadBytes(push: PushMessage): number {
  return fcmMessageBytes(fcmMessageOf({ ...push, token: "" }, undefined));
}

/** {@link fcmPayloadBytes} of a message already built. */
export function fcmMessageBytes({ notification, data }: FcmMessage): number {
  return Buffer.byteLength(
    JSON.stringify(
      notification === undefined ? { data } : { notification, data },
    ),
  );
}
