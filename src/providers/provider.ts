import type { JsonObject, Platform } from "../vocabulary.ts";

/**
 * What a push says, whatever device it goes to: the payload builders' input. Planning
 * builds it from a rendered message to measure each platform's payload; delivery adds
 * the device (see {@link Push}).
 */
export type PushMessage = {
  /** The notification id, sent as `nudge_id` and used as the collapse id. */
  notificationId: string;
  title: string;
  body: string;
  deepLink: string | undefined;
  image: string | undefined;
  sound: string | undefined;
  badge: number | undefined;
  /** Custom data; values are strings on every platform. */
  data: Readonly<Record<string, string>>;
  /** Groups pushes on the device (APNs thread id, Android tag): the rule id. */
  threadId: string;
  /** After this instant the push is worthless: the providers' expiry/ttl. */
  expiresAt: Date | undefined;
  /** A background push: wakes the app with the data, shows nothing. */
  silent?: boolean;
  /** Buttons on the notification; never on a silent push. */
  actions?: readonly PushAction[];
  /** `normal` lets the device or browser wait for a good moment; default high. */
  priority?: "high" | "normal";
  /** What only APNs, FCM or browsers read. */
  apns?: ApnsOptions;
  fcm?: FcmOptions;
  webpush?: WebPushOptions;
};

/** A button: the app (or service worker) tells which by its `id`. */
export type PushAction = {
  id: string;
  title: string;
  deepLink?: string;
  /** Opens the app (Android reads it from the data; iOS from the category). */
  foreground?: boolean;
  /** Deletes or cancels something: shown as such where the platform can. */
  destructive?: boolean;
};

/** The options of a push that only APNs reads. */
export type ApnsOptions = {
  /** `aps.category`: the notification category the app registered its actions in. */
  category?: string;
  interruptionLevel?: "passive" | "active" | "time-sensitive";
  /** In [0, 1]. */
  relevanceScore?: number;
  /** Replaces the push's `threadId` on APNs. */
  threadId?: string;
  subtitle?: string;
};

/** The options of a push that only FCM reads (its Android part). */
export type FcmOptions = {
  channelId?: string;
  /** Replaces the priority that `PushMessage.priority` maps to. */
  priority?: "high" | "normal";
  /** Replaces the push's `threadId` as the notification's tag. */
  tag?: string;
  /** `#rrggbb`. */
  color?: string;
  icon?: string;
};

/** The options of a push that only browsers read. */
export type WebPushOptions = {
  icon?: string;
  badge?: string;
  /** Replaces the push's `threadId` as the notification's tag. */
  tag?: string;
  requireInteraction?: boolean;
  /** Replaces the Urgency that `PushMessage.priority` maps to. */
  urgency?: "very-low" | "low" | "normal" | "high";
};

/** One push to one device: what every provider turns into its own wire format. */
export type Push = PushMessage & {
  userId: string;
  deviceId: string;
  platform: Platform;
  /** APNs device token, FCM registration token, or the Web Push endpoint. */
  token: string;
  /** The Web Push subscription ({endpoint, keys: {p256dh, auth}}); null elsewhere. */
  subscription: JsonObject | null;
};

/**
 * What became of one push. Providers return outcomes as values and never throw for a
 * provider's answer, so delivery handles each kind in one exhaustive switch.
 */
export type SendOutcome =
  /** Accepted by the provider. */
  | { kind: "sent"; providerMessageId?: string }
  /**
   * Try again later: 429, 5xx, timeouts, resets, refused credentials. `retryAfterMs`
   * from `Retry-After`; `cause` says what failed, so that delivery can tell a provider
   * that is down (which costs no push an attempt) from one push's trouble.
   */
  | {
      kind: "retry";
      reason: string;
      cause?: RetryCause;
      retryAfterMs?: number;
    }
  /** The token or subscription is dead: disable the device, never retry. */
  | { kind: "invalid_token"; reason: string }
  /** Retrying cannot help (payload too large, a wrong topic): says what to fix. */
  | { kind: "permanent"; reason: string };

/** What made a send fail in a way that another try may mend. */
export const RetryCause = {
  /**
   * No answer at all: a timeout, a reset, a refused or lost connection. Every push
   * shares the connection, so the provider is unreachable, not this push.
   */
  connection: "connection",
  /** The provider answered that it is overloaded or failing: 429, 5xx. */
  server: "server",
  /** The provider refused Nudge's credentials: no push gets through until they are fixed. */
  credentials: "credentials",
} as const;
export type RetryCause = (typeof RetryCause)[keyof typeof RetryCause];

export const ProviderName = {
  apns: "apns",
  fcm: "fcm",
  webpush: "webpush",
  log: "log",
} as const;
export type ProviderName = (typeof ProviderName)[keyof typeof ProviderName];

/** A push service client: created once, shared by all sends, closed on shutdown. */
export interface PushProvider {
  readonly name: ProviderName;
  send(push: Push): Promise<SendOutcome>;
  /**
   * The service that answers this push, when the provider speaks to several (Web Push:
   * the endpoint's origin). Delivery pauses a service that is down, not the others.
   * Without it, the provider is one service.
   */
  serviceOf?(push: Push): string;
  close(): Promise<void>;
}

/** The wire data every push carries besides the rule's own data. */
export function pushData(push: PushMessage): Record<string, string> {
  return {
    ...push.data,
    nudge_id: push.notificationId,
    ...(push.deepLink === undefined ? {} : { deep_link: push.deepLink }),
  };
}

/**
 * Each action's deep link by action id, for the app (or service worker) to open on a
 * tap of that button; undefined when no action has one.
 */
export function actionLinksOf(
  push: PushMessage,
): Record<string, string> | undefined {
  const links: Record<string, string> = {};
  for (const { id, deepLink } of push.actions ?? [])
    if (deepLink !== undefined) links[id] = deepLink;
  return Object.keys(links).length === 0 ? undefined : links;
}

/** `Retry-After` (RFC 9110: delay-seconds or an HTTP date) in milliseconds from `now`. */
export function retryAfterMs(
  value: string | readonly string[] | undefined,
  now: Date,
): number | undefined {
  const text = (typeof value === "string" ? value : value?.[0])?.trim();
  if (text === undefined || text === "") return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}
