import type { JsonObject } from "../db/schema.ts";
import {
  emptyProfileChange,
  type ProfileChange,
} from "../profiles/profile-changes.ts";
import { matchesCondition, readPath } from "../rules/condition.ts";
import type { Collection, RuleBook } from "../rules/rule-book.ts";
import { readDevices } from "./device-changes.ts";
import { ignoreWarnings, type EventWarning } from "./event-warnings.ts";
import { fitsBytes, MAX_ITEM_KEY_BYTES } from "./input-limits.ts";
import type { EventProblem } from "./segment-event.schema.ts";
import type { SegmentEvent } from "../segment-event.ts";
import { deviceLocale, sourcedSetting } from "./timezone-locale.ts";

/** What one event says about its user's profile, devices, preferences and saved items. */
export function changesOfEvent(
  event: SegmentEvent,
  book: RuleBook,
): ProfileChange {
  const change = emptyProfileChange();
  const { traits } = event;
  change.timezone = sourcedSetting(event, "timezone");
  change.locale = sourcedSetting(event, "locale");

  if (event.type === "identify") {
    change.traits = traits;
    readTraitPreferences(traits, book, change);
  }
  if (event.type === "group" && event.groupId !== undefined) {
    change.groups = { [event.groupId]: traits };
  }

  readDevices(event, deviceLocale(event), change, ignoreWarnings);
  readSavedItems(event, book, change);
  return change;
}

/**
 * What of this event the intake cannot use, though it accepts the event: the devices
 * and subscriptions it skips (see event-warnings.ts). Read apart from `changesOfEvent`,
 * which runs later and only for the events that turn out to be new.
 */
export function warningsOfEvent(event: SegmentEvent): EventWarning[] {
  const warnings: EventWarning[] = [];
  readDevices(event, undefined, emptyProfileChange(), (code, message) =>
    warnings.push({ code, message }),
  );
  return warnings;
}

/** Traits named in the rules file set the global opt-out and category opt-ins. */
function readTraitPreferences(
  traits: JsonObject,
  book: RuleBook,
  change: ProfileChange,
): void {
  const { optOutTrait, categories } = book.settings;
  if (optOutTrait !== undefined)
    change.optOut = traitAnswer(traits[optOutTrait], "out");
  for (const [name, category] of Object.entries(categories)) {
    if (category.trait === undefined) continue;
    const optedIn = traitAnswer(traits[category.trait], "in");
    if (optedIn !== undefined) change.categories[name] = optedIn;
  }
}

/**
 * Reads a yes/no trait that asks "is the user opted in?" or "… opted out?". "yes" answers
 * the question, but "in"/"subscribed" and "out"/"unsubscribed" state the user's status,
 * so they mean opposite things for an opt-in and an opt-out trait.
 */
function traitAnswer(value: unknown, asks: "in" | "out"): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value !== "string") return undefined;
  const text = value.toLowerCase();
  if (["true", "yes", "1"].includes(text)) return true;
  if (["false", "no", "0"].includes(text)) return false;
  if (["in", "subscribed"].includes(text)) return asks === "in";
  if (["out", "unsubscribed"].includes(text)) return asks === "out";
  return undefined;
}

function readSavedItems(
  event: SegmentEvent,
  book: RuleBook,
  change: ProfileChange,
): void {
  for (const collection of book.collections) {
    const op = savedItemOp(collection, event);
    if (op === undefined) continue;
    const key = readPath(event.payload, collection.key);
    if (typeof key !== "string" && typeof key !== "number") continue;
    change.savedItems.push({
      collection: collection.name,
      key: String(key),
      op,
      properties: event.properties,
    });
  }
}

/** Whether the event adds to or removes from the collection, if either. */
function savedItemOp(
  collection: Collection,
  event: SegmentEvent,
): "add" | "remove" | undefined {
  if (matchesCondition(collection.add, event.payload)) return "add";
  return collection.remove !== undefined &&
    matchesCondition(collection.remove, event.payload)
    ? "remove"
    : undefined;
}

/**
 * The keys of saved items this event adds or removes that are too long to store. The
 * call is rejected rather than stored without its item: the item is what it is for,
 * and the sender hears why in the report. Conditions are evaluated only for a key that
 * is too long, so the common call pays for one path lookup per collection.
 */
export function savedItemKeyProblems(
  event: SegmentEvent,
  book: RuleBook,
): EventProblem[] {
  const problems: EventProblem[] = [];
  for (const collection of book.collections) {
    const key = readPath(event.payload, collection.key);
    if (typeof key !== "string" || fitsBytes(key, MAX_ITEM_KEY_BYTES)) continue;
    if (savedItemOp(collection, event) === undefined) continue;
    problems.push({
      path: collection.key,
      message: `is the key of an item of collection "${collection.name}" and must be at most ${String(MAX_ITEM_KEY_BYTES)} bytes (UTF-8)`,
    });
  }
  return problems;
}
