import { z } from "zod";
import { clockTime, deliveryWindow, duration } from "./window.schema.ts";
import { parseCondition } from "./condition.ts";
import {
  identifier,
  message,
  partialMessage,
  locales,
} from "./message.schema.ts";
import { isKnownTimezone } from "./local-time.ts";

const timezone = z.string().refine(isKnownTimezone, {
  message: 'must be an IANA timezone such as "Europe/Berlin"',
});

/** A Segment Actions trigger, checked with Segment's own parser. */
const condition = z
  .string()
  .min(1)
  .superRefine((source, ctx) => {
    const parsed = parseCondition(source);
    if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.message });
  })
  .meta({
    description: "Segment Actions trigger syntax",
    examples: ['event = "Order Completed"'],
  });

const path = z.string().regex(/^[A-Za-z0-9_$]+(\.[A-Za-z0-9_$]+)*$/, {
  message:
    'must be a dotted path into the event, such as "properties.product_id"',
});

const frequencyCap = z.strictObject({
  max: z.number().int().min(1),
  per: duration,
});

const category = z.strictObject({
  default: z.enum(["in", "out"]).default("in"),
  description: z.string().optional(),
  trait: z.string().min(1).optional().meta({
    description: "identify trait that opts the user in (true) or out (false)",
  }),
});

const quietHours = z.strictObject({ start: clockTime, end: clockTime });

/** App categories whose usual caps and quiet hours `settings.preset` fills in (presets.ts). */
export const PRESETS = ["news", "social", "commerce", "utility"] as const;
export type Preset = (typeof PRESETS)[number];

export const settingsSchema = z.strictObject({
  preset: z.enum(PRESETS).optional().meta({
    description:
      "the app's category: sets the global frequencyCap and quietHours usual for it, unless given here",
  }),
  defaultTimezone: timezone.default("UTC"),
  defaultLocale: z.string().min(2).default("en"),
  quietHours: z
    .union([quietHours, z.literal(false)])
    .optional()
    .meta({
      description:
        "when pushes wait, in each user's timezone; false: none, even with a preset",
    }),
  deliveryWindow: deliveryWindow.optional().meta({
    description:
      "the delivery window of every rule that does not set delivery.window",
  }),
  frequencyCap: z
    .union([frequencyCap, z.literal(false)])
    .optional()
    .meta({
      description:
        "pushes per user over all rules; false: no cap, even with a preset",
    }),
  categories: z.record(identifier, category).default({}),
  optOutTrait: z.string().min(1).optional().meta({
    description:
      "identify trait that opts the user out of all pushes when true",
  }),
});

export const collectionSchema = z.strictObject({
  name: identifier,
  key: path.meta({
    description: "path to the item's key in the add/remove event",
  }),
  add: condition,
  remove: condition.optional(),
});

/** Promotes a variant that beats the first one significantly: see winner-decision.ts. */
const autoWinner = z.strictObject({
  metric: z.enum(["conversion", "open"]).optional().meta({
    description:
      "the rate compared: conversions per push sent (the default when the rule has a conversion) or opens per push sent (the default otherwise)",
  }),
  minSent: z.number().int().min(100).default(1000).meta({
    description:
      "pushes sent of every variant before the first look; later looks at 2, 4 and 8 times as many",
  }),
  confidence: z.number().gt(0.5).lt(1).default(0.95).meta({
    description:
      "1 minus the chance of promoting a variant that is no better, over all looks together",
  }),
  window: duration.optional().meta({
    description:
      "how long after its send a push's open or conversion counts (default: 1d for opens; for conversions the conversion window, plus 1d when it starts at the open)",
  }),
});

const audience = z.union([
  z.strictObject({ collection: identifier, key: path }),
  z.strictObject({ where: condition }),
]);

/**
 * What sets a rule off: a condition on incoming events, or "manual" for a rule run only
 * through `POST /v1/rules/:id/trigger`, so that no event sets it off by accident. No
 * condition reads "manual": the parser refuses a lone word.
 */
const trigger = z.union([
  z.literal("manual").meta({
    description: "run only through POST /v1/rules/:id/trigger",
  }),
  condition,
]);

export const ruleSchema = z.strictObject({
  id: identifier,
  description: z.string().optional(),
  enabled: z.boolean().default(true),
  trigger,
  audience: audience.optional(),
  category: identifier.optional(),
  message,
  variants: z
    .array(
      z.strictObject({
        id: identifier,
        weight: z.number().positive(),
        message: partialMessage.extend({ locales }).optional(),
      }),
    )
    .min(1)
    .optional(),
  autoWinner: autoWinner.optional(),
  holdout: z.number().min(0).max(1).default(0),
  delivery: z
    .strictObject({
      delay: duration.optional(),
      cancelIf: condition.optional(),
      dedupe: duration.optional(),
      ttl: duration.optional(),
      frequencyCap: frequencyCap.optional(),
      quietHours: z.boolean().optional().meta({
        description:
          "false to send in quiet hours; default true, false for a silent message (it shows nothing)",
      }),
      caps: z.boolean().optional().meta({
        description:
          "whether settings.frequencyCap stops this rule's pushes and counts them; default true, false for a silent message",
      }),
      window: z
        .union([deliveryWindow, z.literal(false)])
        .optional()
        .meta({
          description:
            "hold pushes until this local window opens; false: send at any hour, whatever settings.deliveryWindow says",
        }),
    })
    .default({}),
  conversion: z
    .strictObject({
      event: z.string().min(1),
      within: duration,
      after: z.enum(["open", "send"]).default("open").meta({
        description:
          "what the window counts from: the push being opened (default) or sent",
      }),
    })
    .optional(),
});

export const rulesFileSchema = z.strictObject({
  $schema: z.string().optional(),
  settings: settingsSchema.default(() => settingsSchema.parse({})),
  collections: z.array(collectionSchema).default([]),
  rules: z.array(ruleSchema).default([]),
});

export type RulesFileInput = z.input<typeof rulesFileSchema>;
export type RulesFile = z.output<typeof rulesFileSchema>;
/** The settings as written, before a preset is applied. */
export type SettingsSpec = RulesFile["settings"];
type QuietHoursSpec = z.output<typeof quietHours>;
type FrequencyCapSpec = z.output<typeof frequencyCap>;
/** The settings in force: the preset's caps and quiet hours filled in (presets.ts). */
export type Settings = Omit<SettingsSpec, "quietHours" | "frequencyCap"> & {
  quietHours: QuietHoursSpec | undefined;
  frequencyCap: FrequencyCapSpec | undefined;
};
export type CollectionSpec = RulesFile["collections"][number];
export type RuleSpec = RulesFile["rules"][number];

/** The JSON Schema shipped as rules.schema.json, so editors autocomplete rules files. */
export function rulesJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(rulesFileSchema, { io: "input", unrepresentable: "any" }),
    title: "Nudge rules file",
  };
}
