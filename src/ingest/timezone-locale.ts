import { ValueSource } from "../db/schema.ts";
import type { SourcedValue } from "../profiles/profile-changes.ts";
import type { SegmentEvent } from "../segment-event.ts";

/**
 * The timezone or locale an event states for its profile. An identify's trait is the
 * app's choice and comes first; `context.timezone` / `context.locale` is the device's
 * or browser's own setting (analytics.js sends it on every call), which only fills in
 * (see `SourcedValue`).
 */
export function sourcedSetting(
  event: SegmentEvent,
  name: "timezone" | "locale",
): SourcedValue | undefined {
  const trait = traitString(event, name);
  if (trait !== undefined) return { value: trait, source: ValueSource.trait };
  const own = stringOrUndefined(event.context[name]);
  return own === undefined
    ? undefined
    : { value: own, source: ValueSource.context };
}

/** The locale a device reports for itself, else the one its user chose. */
export function deviceLocale(event: SegmentEvent): string | undefined {
  return (
    stringOrUndefined(event.context.locale) ?? traitString(event, "locale")
  );
}

function traitString(event: SegmentEvent, name: string): string | undefined {
  return event.type === "identify"
    ? stringOrUndefined(event.traits[name])
    : undefined;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== ""
    ? value.trim()
    : undefined;
}
