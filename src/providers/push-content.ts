import type { JsonObject, Platform } from "../vocabulary.ts";
import type { PushMessage } from "./provider.ts";

/** What a push is about besides its content: the notification, its rule, its expiry. */
export type PushIdentity = {
  notificationId: string;
  /** The rule id: what groups a rule's pushes on the device by default. */
  ruleId: string;
  expiresAt: Date | undefined;
};

/**
 * The push a stored (rendered) message makes on one platform. Pure and shared: delivery
 * sends it, planning measures it. Content stored before a field existed lacks it, and
 * a value of the wrong type is left out rather than sent.
 */
export function pushMessageOf(
  content: JsonObject,
  identity: PushIdentity,
  _platform: Platform,
): PushMessage {
  return {
    notificationId: identity.notificationId,
    title: text(content.title) ?? "",
    body: text(content.body) ?? "",
    deepLink: text(content.deepLink),
    image: text(content.image),
    sound: text(content.sound),
    badge: badgeCount(text(content.badge)),
    data: stringValues(content.data),
    threadId: identity.ruleId,
    expiresAt: identity.expiresAt,
    ...(content.silent === true && { silent: true }),
  };
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
