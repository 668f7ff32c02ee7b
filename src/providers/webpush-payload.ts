import { actionLinksOf, pushData, type PushMessage } from "./provider.ts";

/**
 * The most plaintext one push may carry. Push services take a body of 4,096 bytes
 * (RFC 8030 §7.2), and web-push encrypts with aes128gcm (RFC 8188) in one record of
 * its default size: a header of 86 bytes (salt 16, record size 4, key id length 1, the
 * sender's public key 65), then the plaintext, a 1-byte padding delimiter and a 16-byte
 * tag. 4096 - 86 - 1 - 16 = 3993, as encrypting 3,993 and 3,994 bytes shows (4,096 and
 * 4,097 bytes of body).
 */
export const WEBPUSH_MAX_PAYLOAD_BYTES = 4096 - 86 - 1 - 16;

/**
 * The JSON a service worker reads with `event.data.json()` in its `push` handler:
 *
 * ```js
 * const { title, ...options } = event.data.json();
 * event.waitUntil(self.registration.showNotification(title, options));
 * ```
 *
 * `data` holds the rule's data plus `nudge_id` (report it back on click) and, when the
 * push has one, `deep_link` (the URL to open in `notificationclick`). `tag` is the rule
 * id, so a newer push of the same rule replaces the older one on screen. `actions`
 * are the Notifications API's (`{action, title}`): a click on a button comes to
 * `notificationclick` with `event.action` set to its id, whose deep link is
 * `data.action_links[event.action]`.
 */
export type WebPushPayload =
  | {
      title: string;
      body: string;
      image?: string;
      icon?: string;
      badge?: string;
      tag: string;
      requireInteraction?: true;
      actions?: { action: string; title: string }[];
      data: WebPushData;
    }
  /**
   * A silent push: data for the service worker and no notification. Browsers
   * subscribe with `userVisibleOnly: true`, and Chrome shows a notification of its own
   * ("This site has been updated in the background") when a push handler shows none:
   * the worker should update its caches and may show a notification of its choosing.
   */
  | { silent: true; data: WebPushData };

/** The payload's `data`: the push's data, and each action's deep link by action id. */
export type WebPushData = Record<string, string | Record<string, string>>;

/** The service worker's view of a push: see {@link WebPushPayload}. */
export function payloadOf(push: PushMessage): WebPushPayload {
  if (push.silent === true) return { silent: true, data: pushData(push) };
  const actionLinks = actionLinksOf(push);
  const { icon, badge, tag, requireInteraction } = push.webpush ?? {};
  return {
    title: push.title,
    body: push.body,
    ...(push.image === undefined ? {} : { image: push.image }),
    ...(icon !== undefined && { icon }),
    ...(badge !== undefined && { badge }),
    tag: tag ?? push.threadId,
    ...(requireInteraction === true && { requireInteraction }),
    ...(push.actions !== undefined && {
      actions: push.actions.map((a) => ({ action: a.id, title: a.title })),
    }),
    data: {
      ...pushData(push),
      ...(actionLinks !== undefined && { action_links: actionLinks }),
    },
  };
}

/** The plaintext that is encrypted and sent: what the limit is checked against. */
export function webPushPayloadText(push: PushMessage): string {
  return JSON.stringify(payloadOf(push));
}

/**
 * RFC 8030 `Urgency`: the message's `webpush.urgency`, else `high` for a push someone
 * should see now, `normal` for a silent one or one of normal priority, which a
 * browser on battery may hold until it is convenient.
 */
export function urgencyOf(
  push: PushMessage,
): "very-low" | "low" | "normal" | "high" {
  if (push.webpush?.urgency !== undefined) return push.webpush.urgency;
  return push.silent === true || push.priority === "normal" ? "normal" : "high";
}
