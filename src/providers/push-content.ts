import type { JsonObject, Platform } from "../vocabulary.ts";
import type { ApnsOptions, PushAction, PushMessage } from "./provider.ts";

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
  const silent = content.silent === true;
  const actions = silent ? [] : actionsOf(content.actions);
  const apns = apnsOptionsOf(content, identity, actions);
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
    ...(silent && { silent: true }),
    ...(actions.length > 0 && { actions }),
    ...(Object.keys(apns).length > 0 && { apns }),
  };
}

/**
 * The APNs options. A message with actions names the category the iOS app registered
 * them in; without `apns.category` that is the rule's id.
 */
function apnsOptionsOf(
  content: JsonObject,
  identity: PushIdentity,
  actions: readonly PushAction[],
): ApnsOptions {
  const given = objectOf(content.apns);
  const category =
    text(given.category) ?? (actions.length > 0 ? identity.ruleId : undefined);
  return { ...(category !== undefined && { category }) };
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
