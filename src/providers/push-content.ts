import type { JsonObject, Platform } from "../vocabulary.ts";
import { payloadSizeOf, type PayloadSize } from "./payload-size.ts";
import { fitBody } from "./truncate.ts";
import type {
  ApnsOptions,
  FcmOptions,
  PushAction,
  PushMessage,
  WebPushOptions,
} from "./provider.ts";

/** What a push is about besides its content: the notification, its rule, its expiry. */
export type PushIdentity = {
  notificationId: string;
  /** The rule id: what groups a rule's pushes on the device by default. */
  ruleId: string;
  expiresAt: Date | undefined;
};

/**
 * The push a stored (rendered) message makes on one platform: the message's shared
 * fields with that platform's overrides over them, and its options. Pure and shared:
 * delivery sends it, planning measures it. Content stored before a field existed lacks
 * it, and a value of the wrong type is left out rather than sent. A message that says
 * `truncate` has its body shortened to fit the platform's limit.
 */
export function pushMessageOf(
  content: JsonObject,
  identity: PushIdentity,
  platform: Platform,
): PushMessage {
  const override = objectOf(objectOf(content.overrides)[platform]);
  const shared = { ...content, ...pick(override, SHARED_KEYS[platform]) };
  const optionsOf = (of: Platform) => ({
    ...objectOf(content[of]),
    ...(of === platform ? pick(override, OPTION_KEYS[of]) : {}),
  });
  const silent = content.silent === true;
  const actions = silent ? [] : actionsOf(content.actions);
  // Each platform's payload reads its own options, and FCM's reads APNs' too (for the
  // iOS devices it reaches).
  const apns =
    platform === "webpush"
      ? {}
      : apnsOptionsOf(optionsOf("apns"), identity, actions);
  const fcm = platform === "fcm" ? fcmOptionsOf(optionsOf("fcm")) : {};
  const webpush =
    platform === "webpush" ? webPushOptionsOf(optionsOf("webpush")) : {};
  const priority = oneOf(shared.priority, PRIORITIES);
  const push: PushMessage = {
    notificationId: identity.notificationId,
    title: text(shared.title) ?? "",
    body: text(shared.body) ?? "",
    deepLink: text(shared.deepLink),
    image: text(shared.image),
    sound: text(shared.sound),
    badge: badgeCount(text(shared.badge)),
    data: stringValues(content.data),
    threadId: identity.ruleId,
    expiresAt: identity.expiresAt,
    ...(silent && { silent: true }),
    ...(actions.length > 0 && { actions }),
    ...(priority !== undefined && { priority }),
    ...(Object.keys(apns).length > 0 && { apns }),
    ...(Object.keys(fcm).length > 0 && { fcm }),
    ...(Object.keys(webpush).length > 0 && { webpush }),
  };
  return content.truncate === true ? fitBody(push, platform) : push;
}

const PRIORITIES = ["high", "normal"] as const;
const TEXTS = ["title", "body", "deepLink", "image", "sound", "priority"];
/** What an override may replace of the shared fields: Web Push's badge is an option. */
const SHARED_KEYS: Readonly<Record<Platform, readonly string[]>> = {
  apns: [...TEXTS, "badge"],
  fcm: [...TEXTS, "badge"],
  webpush: TEXTS,
};
const OPTION_KEYS: Readonly<Record<Platform, readonly string[]>> = {
  apns: [
    "category",
    "interruptionLevel",
    "relevanceScore",
    "threadId",
    "subtitle",
  ],
  fcm: ["channelId", "priority", "tag", "color", "icon"],
  webpush: ["icon", "badge", "tag", "requireInteraction", "urgency"],
};

/**
 * The APNs options. A message with actions names the category the iOS app registered
 * them in; without `apns.category` that is the rule's id.
 */
function apnsOptionsOf(
  given: Record<string, unknown>,
  identity: PushIdentity,
  actions: readonly PushAction[],
): ApnsOptions {
  const category =
    text(given.category) ?? (actions.length > 0 ? identity.ruleId : undefined);
  const score = given.relevanceScore;
  return defined({
    category,
    interruptionLevel: oneOf(given.interruptionLevel, INTERRUPTION_LEVELS),
    relevanceScore:
      typeof score === "number" && score >= 0 && score <= 1 ? score : undefined,
    threadId: text(given.threadId),
    subtitle: text(given.subtitle),
  });
}

const INTERRUPTION_LEVELS = ["passive", "active", "time-sensitive"] as const;

function fcmOptionsOf(given: Record<string, unknown>): FcmOptions {
  const color = text(given.color);
  return defined({
    channelId: text(given.channelId),
    priority: oneOf(given.priority, PRIORITIES),
    tag: text(given.tag),
    color:
      color !== undefined && /^#[0-9A-Fa-f]{6}$/.test(color)
        ? color
        : undefined,
    icon: text(given.icon),
  });
}

const URGENCIES = ["very-low", "low", "normal", "high"] as const;

function webPushOptionsOf(given: Record<string, unknown>): WebPushOptions {
  return defined({
    icon: text(given.icon),
    badge: text(given.badge),
    tag: text(given.tag),
    requireInteraction: given.requireInteraction === true ? true : undefined,
    urgency: oneOf(given.urgency, URGENCIES),
  });
}

/** The object without its undefined values, as the builders test for presence. */
function defined<T extends object>(object: T): T {
  const kept: Partial<T> = {};
  for (const key in object)
    if (object[key] !== undefined) kept[key] = object[key];
  return kept as T;
}

function oneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
): T | undefined {
  return allowed.find((a) => a === value);
}

function pick(
  object: Record<string, unknown>,
  keys: readonly string[],
): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const key of keys)
    if (Object.hasOwn(object, key)) picked[key] = object[key];
  return picked;
}

function actionsOf(value: unknown): PushAction[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item: unknown) => {
    const fields = objectOf(item);
    const id = text(fields.id);
    const title = text(fields.title);
    if (id === undefined || title === undefined) return [];
    const deepLink = text(fields.deepLink);
    return [
      {
        id,
        title,
        ...(deepLink !== undefined && { deepLink }),
        ...(fields.foreground === true && { foreground: true }),
        ...(fields.destructive === true && { destructive: true }),
      },
    ];
  });
}

function objectOf(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function badgeCount(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,9}$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

function stringValues(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null) return {};
  return Object.fromEntries(
    Object.entries(value).filter(
      (entry): entry is [string, string] => typeof entry[1] === "string",
    ),
  );
}

/**
 * Every notification id is a UUID of 36 characters (`notificationIdOf`), so one of
 * them stands for any in a payload measured before the notification has its id.
 */
export const MEASURING_NOTIFICATION_ID = "00000000-0000-5000-8000-000000000000";

/** The payload a rule's message (as rendered, or as stored) makes on a platform. */
export function measureMessage(
  content: Parameters<typeof pushMessageOf>[0],
  ruleId: string,
  platform: Platform,
): PayloadSize {
  const identity = {
    notificationId: MEASURING_NOTIFICATION_ID,
    ruleId,
    expiresAt: undefined,
  };
  return payloadSizeOf(platform, pushMessageOf(content, identity, platform));
}
