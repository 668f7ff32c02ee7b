import {
  ValueSource,
  type DeviceStatus,
  type JsonObject,
  type Platform,
} from "../db/schema.ts";

/** A device as an event or the admin API describes it. */
export type DeviceChange = {
  platform: Platform;
  token: string;
  /** Web Push: the browser's PushSubscription ({endpoint, keys}). */
  subscription?: JsonObject | undefined;
  /**
   * Set when the sender stated the subscription status explicitly (messaging
   * subscriptions, Web Push Subscribed, admin API). A token merely seen on an event
   * keeps whatever status it has, so an unsubscribe is not undone by the next event.
   */
  status?: DeviceStatus | undefined;
  locale?: string | undefined;
};

export type SavedItemChange = {
  collection: string;
  key: string;
  op: "add" | "remove";
  properties: JsonObject;
};

/**
 * A timezone or locale with where it came from: a trait the app set on purpose (or the
 * admin API), or the device's own setting from `context`, which only fills a value
 * that is unset or came from context itself.
 */
export type SourcedValue = { value: string; source: ValueSource };

/** Everything one or more events say about one profile, ready to be written in one go. */
export type ProfileChange = {
  traits: JsonObject;
  groups: JsonObject;
  timezone: SourcedValue | undefined;
  locale: SourcedValue | undefined;
  optOut: boolean | undefined;
  categories: Record<string, boolean>;
  devices: DeviceChange[];
  savedItems: SavedItemChange[];
};

export function emptyProfileChange(): ProfileChange {
  return {
    traits: {},
    groups: {},
    timezone: undefined,
    locale: undefined,
    optOut: undefined,
    categories: {},
    devices: [],
    savedItems: [],
  };
}

/**
 * Folds a later change into an earlier one: later values win, lists append in order,
 * except that a timezone or locale from context does not replace one from a trait.
 */
export function foldProfileChange(
  into: ProfileChange,
  later: ProfileChange,
): ProfileChange {
  return {
    traits: { ...into.traits, ...later.traits },
    groups: { ...into.groups, ...later.groups },
    timezone: laterSourced(into.timezone, later.timezone),
    locale: laterSourced(into.locale, later.locale),
    optOut: later.optOut ?? into.optOut,
    categories: { ...into.categories, ...later.categories },
    devices: [...into.devices, ...later.devices],
    savedItems: [...into.savedItems, ...later.savedItems],
  };
}

/** The value that stands after `later`, by the precedence of `SourcedValue`. */
export function laterSourced(
  earlier: SourcedValue | undefined,
  later: SourcedValue | undefined,
): SourcedValue | undefined {
  if (later === undefined) return earlier;
  if (
    later.source === ValueSource.context &&
    earlier?.source === ValueSource.trait
  )
    return earlier;
  return later;
}
