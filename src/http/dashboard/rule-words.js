// A rule as its author wrote it, said in words for the people who run the campaigns:
// its trigger, audience, timing and messages. The original text stays beside it.

import { element } from "./dom.js";

const UNITS = { s: "second", m: "minute", h: "hour", d: "day", w: "week" };

/** "1h" → "1 hour", "30m" → "30 minutes". */
export function duration(text) {
  const match = /^(\d+)([smhdw])$/.exec(text ?? "");
  if (!match) return text;
  const n = Number(match[1]);
  return `${n} ${UNITS[match[2]]}${n === 1 ? "" : "s"}`;
}

const OPERATORS = {
  "=": "is",
  "!=": "is not",
  ">": "is more than",
  "<": "is less than",
  ">=": "is at least",
  "<=": "is at most",
};

/** One comparison of Segment's trigger syntax in words, or undefined when it is not one. */
function comparison(part) {
  const match = /^(\S+)\s*(!=|>=|<=|=|>|<)\s*(.+)$/.exec(part.trim());
  if (!match) return undefined;
  const [, field, operator, value] = match;
  if (field === "type" && operator === "=")
    return `it is a ${value.replaceAll('"', "")} call`;
  if (field === "event" && operator === "=")
    return `the event ${value} happens`;
  const name = field.replace(/^(properties|traits|context)\./, "");
  const whose = field.startsWith("traits.") ? "the user's" : "its";
  return `${whose} ${name} ${OPERATORS[operator]} ${value}`;
}

/**
 * A condition in words when it is a plain "a = b and c = d" (the common case); else
 * undefined, and the condition is shown as written only.
 */
export function conditionInWords(condition) {
  if (/\bor\b|\(/.test(condition)) return undefined;
  const parts = condition.split(/\s+and\s+/).map(comparison);
  return parts.includes(undefined) ? undefined : parts.join(", and ");
}

export function triggerInWords(trigger) {
  if (trigger === "manual")
    return "Only when you run it (Sending now, or the trigger API).";
  const words = conditionInWords(trigger);
  return words === undefined ? "When an event matches:" : `When ${words}.`;
}

export function audienceInWords(audience) {
  if (audience === undefined) return "The user who did it.";
  if (audience.collection !== undefined)
    return `Everyone who saved the item (${audience.key}) to their ${audience.collection}.`;
  const words = conditionInWords(audience.where);
  return words === undefined
    ? "Every user where:"
    : `Every user where ${words}.`;
}

/** Delay, window, quiet hours, dedupe, ttl and cancel condition in words. */
export function deliveryInWords(rule, settings) {
  const d = rule.delivery ?? {};
  const lines = [];
  if (d.delay) lines.push(`Waits ${duration(d.delay)} after the event.`);
  const window = d.window === undefined ? settings.deliveryWindow : d.window;
  if (window)
    lines.push(
      `Sent between ${window.start} and ${window.end} in the user's timezone${window.spread ? ", spread over the window" : ""}.`,
    );
  const quiet = settings.quietHours;
  if (d.quietHours !== false && quiet)
    lines.push(
      `Held through quiet hours (${quiet.start}–${quiet.end}, the user's time).`,
    );
  if (d.quietHours === false) lines.push("Ignores quiet hours.");
  if (d.cancelIf)
    lines.push(
      `Cancelled if, before it goes: ${conditionInWords(d.cancelIf) ?? d.cancelIf}.`,
    );
  if (d.dedupe) lines.push(`At most once per item in ${duration(d.dedupe)}.`);
  if (d.ttl) lines.push(`Dropped if it cannot go within ${duration(d.ttl)}.`);
  if (rule.category)
    lines.push(`Category: ${rule.category} (users can opt out of it).`);
  if (rule.conversion)
    lines.push(
      `Counts a conversion when "${rule.conversion.event}" follows within ${duration(rule.conversion.within)} of the push being ${rule.conversion.after === "send" ? "sent" : "opened"}.`,
    );
  return lines;
}

/** The rule's messages as written: each variant (its own fields over the rule's), each locale. */
export function messagesOf(rule) {
  const base = rule.message ?? {};
  const variants = rule.variants ?? [{ id: null }];
  const rows = [];
  for (const variant of variants) {
    const message = { ...base, ...(variant.message ?? {}) };
    const locales = {
      ...(base.locales ?? {}),
      ...(variant.message?.locales ?? {}),
    };
    rows.push({
      variant: variant.id,
      weight: variant.weight,
      locale: "default",
      ...pick(message),
    });
    for (const [locale, text] of Object.entries(locales))
      rows.push({
        variant: variant.id,
        weight: variant.weight,
        locale,
        ...pick({ ...message, ...text }),
      });
  }
  return rows;
}

const pick = ({ title, body, deepLink, image }) => ({
  title,
  body,
  deepLink,
  image,
});

/** The trigger, audience and timing as a definition list, words first, text below. */
export function ruleDefinition(rule, settings) {
  const written = (text) =>
    text === undefined ? null : element("code", {}, text);
  return element(
    "dl",
    { class: "definition" },
    element("dt", {}, "Trigger"),
    element(
      "dd",
      {},
      element("p", {}, triggerInWords(rule.trigger)),
      rule.trigger === "manual" ? null : written(rule.trigger),
    ),
    element("dt", {}, "Audience"),
    element(
      "dd",
      {},
      element("p", {}, audienceInWords(rule.audience)),
      written(rule.audience?.where),
    ),
    element("dt", {}, "Timing"),
    element(
      "dd",
      {},
      element(
        "ul",
        {},
        deliveryInWords(rule, settings).map((line) => element("li", {}, line)),
      ),
    ),
  );
}
