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
