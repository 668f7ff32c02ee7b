import type { Logger } from "../logger.ts";
import { isKnownTimezone } from "./local-time.ts";
import type { Settings } from "./rules-file.schema.ts";

/**
 * Resolves profile timezones, falling back to the default for names the runtime does
 * not know; each unknown name is logged once.
 */
export function createTimezoneResolver(
  logger: Logger,
  settings: () => Settings,
): (zone: string | null) => string {
  // Asking the runtime means building an Intl.DateTimeFormat: once per name is enough.
  const known = new Set<string>();
  const warned = new Set<string>();
  return (zone) => {
    const fallback = settings().defaultTimezone;
    if (zone === null || zone === "") return fallback;
    if (known.has(zone)) return zone;
    if (isKnownTimezone(zone)) {
      known.add(zone);
      return zone;
    }
    if (!warned.has(zone)) {
      warned.add(zone);
      logger.warn(
        { timezone: zone, fallback },
        "unknown timezone: using the default",
      );
    }
    return fallback;
  };
}
