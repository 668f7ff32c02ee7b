import { z } from "zod";
import { parseTemplate } from "./message-template.ts";

/** A Liquid template over event, profile and item. */
export const template = z.string().superRefine((source, ctx) => {
  try {
    parseTemplate(source);
  } catch (error) {
    const reason =
      error instanceof Error ? error.message.split("\n")[0] : String(error);
    ctx.addIssue({
      code: "custom",
      message: `is not a valid Liquid template: ${reason}`,
    });
  }
});

export const identifier = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
    message:
      "must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
  });

/**
 * Buttons per message. Android shows at most three action buttons and iOS up to four
 * in a category's expanded view, so three show on every phone; browsers show
 * `Notification.maxActions` of them (two in Chrome), the first ones.
 */
export const MAX_ACTIONS = 3;

const action = z.strictObject({
  id: identifier.meta({
    description:
      "not a template: the action id the iOS app registers in its category, the service worker reads as event.action, and a tap reports as properties.action_id",
  }),
  title: template.meta({ description: "the button's text" }),
  deepLink: template.optional().meta({
    description: "what the app opens when this button is tapped",
  }),
  foreground: z.boolean().optional().meta({
    description:
      "the button opens the app (Android; on iOS the category's registration says so)",
  }),
  destructive: z.boolean().optional().meta({
    description:
      "the button deletes or cancels something (Android; on iOS the category's registration says so)",
  }),
});

const actions = z
  .array(action)
  .min(1)
  .max(MAX_ACTIONS)
  .superRefine((list, ctx) => {
    const ids = list.map((a) => a.id);
    const twice = ids.find((id, index) => ids.indexOf(id) !== index);
    if (twice !== undefined)
      ctx.addIssue({
        code: "custom",
        message: `action id "${twice}" is used twice: a tap could not tell them apart`,
      });
  })
  .meta({
    description: `buttons on the notification, at most ${String(MAX_ACTIONS)}; a tap comes back as Push Notification Tapped with properties.action_id`,
  });

const priority = z.enum(["high", "normal"]).meta({
  description:
    "high (the default) to show now; normal lets the phone or browser wait for a convenient moment: APNs apns-priority 10 or 5, FCM android.priority, Web Push Urgency",
});

const apnsOptions = {
  category: identifier.meta({
    description:
      "aps.category: the category the iOS app registered the actions in (default: the rule id when the message has actions)",
  }),
  interruptionLevel: z.enum(["passive", "active", "time-sensitive"]).meta({
    description:
      "aps.interruption-level; time-sensitive needs the app's Time Sensitive Notifications capability",
  }),
  relevanceScore: z.number().min(0).max(1).meta({
    description:
      "aps.relevance-score: how the summary ranks this notification among the app's",
  }),
  threadId: template.meta({
    description: "aps.thread-id: groups notifications (default: the rule id)",
  }),
  subtitle: template.meta({ description: "aps.alert.subtitle" }),
};

const fcmOptions = {
  channelId: template.meta({
    description:
      "android.notification.channel_id: a channel the app created (Android 8+)",
  }),
  priority,
  tag: template.meta({
    description:
      "android.notification.tag: a newer notification with the tag replaces the older (default: the rule id)",
  }),
  color: z
    .string()
    .regex(/^#[0-9A-Fa-f]{6}$/, { message: 'must be "#rrggbb"' })
    .meta({ description: "android.notification.color of the small icon" }),
  icon: template.meta({
    description: "android.notification.icon: a drawable in the app",
  }),
};

const webpushOptions = {
  icon: template.meta({ description: "the notification's icon URL" }),
  badge: template.meta({
    description:
      "the monochrome badge image URL shown in the status bar (Android)",
  }),
  tag: template.meta({
    description:
      "a newer notification with the tag replaces the older (default: the rule id)",
  }),
  requireInteraction: z.boolean().meta({
    description: "stays on screen until clicked or dismissed",
  }),
  urgency: z.enum(["very-low", "low", "normal", "high"]).meta({
    description:
      "RFC 8030 Urgency header (default: from priority; normal for silent)",
  }),
};

/** Shared fields an override may replace on one platform. */
const sharedOverride = {
  title: template,
  body: template,
  deepLink: template,
  image: template,
  sound: template,
  priority,
};

const overrides = z
  .strictObject({
    apns: z
      .strictObject({ ...sharedOverride, badge: template, ...apnsOptions })
      .partial(),
    fcm: z
      .strictObject({ ...sharedOverride, badge: template, ...fcmOptions })
      .partial(),
    // badge is Web Push's badge image here: the count is APNs' alone.
    webpush: z.strictObject({ ...sharedOverride, ...webpushOptions }).partial(),
  })
  .partial()
  .meta({
    description:
      "per platform, text or options that replace the message's there: e.g. a shorter title on iOS, or a web URL instead of the app's deep link in the browser",
  });

const messageFields = {
  title: template,
  body: template,
  deepLink: template.optional(),
  image: template.optional(),
  sound: template.optional(),
  badge: template.optional().meta({
    description:
      'the app icon\'s badge count (APNs), e.g. "1" or "{{ profile.traits.unread }}"',
  }),
  data: z
    .record(z.string(), template)
    .optional()
    .meta({ description: "custom key/value data delivered with the push" }),
  actions: actions.optional(),
  priority: priority.optional(),
  apns: z
    .strictObject(apnsOptions)
    .partial()
    .optional()
    .meta({ description: "options only APNs reads" }),
  fcm: z
    .strictObject(fcmOptions)
    .partial()
    .optional()
    .meta({ description: "options only FCM (Android) reads" }),
  webpush: z
    .strictObject(webpushOptions)
    .partial()
    .optional()
    .meta({ description: "options only browsers read" }),
  overrides: overrides.optional(),
  truncate: z.boolean().optional().meta({
    description:
      "true: a body that would make a platform's payload too large is shortened, with an ellipsis between two characters, to fit; otherwise such a push is suppressed as payload_too_large",
  }),
};

export const partialMessage = z.strictObject(messageFields).partial();

export const locales = z
  .record(z.string().min(2), partialMessage)
  .optional()
  .meta({
    description:
      'texts by locale ("de", "de-AT"), chosen with language fallback',
  });

export const message = z
  .strictObject({
    ...messageFields,
    title: template.optional(),
    body: template.optional(),
    silent: z.boolean().default(false).meta({
      description:
        "a background push that wakes the app to fetch data and shows nothing: APNs content-available at priority 5, FCM data only, Web Push without a notification",
    }),
    locales,
  })
  .superRefine((m, ctx) => {
    if (m.silent) {
      // A silent push shows nothing, so it needs no text and has no buttons.
      if (m.actions !== undefined)
        ctx.addIssue({
          code: "custom",
          path: ["actions"],
          message: 'a "silent": true message shows nothing to tap',
        });
      return;
    }
    for (const field of ["title", "body"] as const)
      if (m[field] === undefined)
        ctx.addIssue({
          code: "custom",
          path: [field],
          message: 'is required unless the message is "silent": true',
        });
  })
  .transform((m) => ({ ...m, title: m.title ?? "", body: m.body ?? "" }));
