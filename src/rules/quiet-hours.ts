// The subpath alone: date-fns-tz's index (its formatter) loads all of date-fns, a few
// hundred MB of RSS in every process for one conversion.
import { fromZonedTime } from "date-fns-tz/fromZonedTime";

/** Quiet hours as minutes after local midnight; `start > end` wraps past midnight. */
export type QuietHours = { start: number; end: number };

/** Whether `zone` is an IANA timezone this runtime knows. */
export function isKnownTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The first moment at or after `at` that is outside quiet hours in `timeZone`.
 * Quiet hours defer a message, never drop it. Wall-clock arithmetic happens in the
 * user's zone, so the end of quiet hours is right on DST-change nights too; an end that
 * falls into a skipped hour resolves to the instant the clocks jump to.
 */
export function endOfQuietHours(
  at: Date,
  quiet: QuietHours | undefined,
  timeZone: string,
): Date {
  if (quiet === undefined || quiet.start === quiet.end) return at;
  const local = formatLocalMinute(at, timeZone);
  const [day = "", time = ""] = local.split(" ");
  const [hours = 0, minutes = 0] = time.split(":").map(Number);
  const now = hours * 60 + minutes;
  const wraps = quiet.start > quiet.end;
  const quietNow = wraps
    ? now >= quiet.start || now < quiet.end
    : now >= quiet.start && now < quiet.end;
  if (!quietNow) return at;
  // Past the start of a window that wraps midnight, the window ends tomorrow.
  const endDay = wraps && now >= quiet.start ? nextDay(day) : day;
  const end = localTimeToInstant(`${endDay} ${clock(quiet.end)}`, timeZone);
  return end > at ? end : at;
}

/**
 * The instant a wall-clock time "yyyy-MM-dd HH:mm" happens in `timeZone`. For a time the
 * clocks skip (spring forward), that is the instant they jump to: date-fns-tz alone
 * would answer an hour early, before the skipped time.
 */
export function localTimeToInstant(local: string, timeZone: string): Date {
  const guess = fromZonedTime(local.replace(" ", "T") + ":00", timeZone);
  if (formatLocalMinute(guess, timeZone) === local) return guess;
  let instant = guess;
  for (let step = 0; step < 24 * 60; step++) {
    if (formatLocalMinute(instant, timeZone) >= local) return instant;
    instant = new Date(instant.getTime() + 60_000);
  }
  return guess;
}

/** One formatter per timezone: building one costs far more than formatting with it. */
const minuteFormats = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock time of an instant in `timeZone`, as "yyyy-MM-dd HH:mm". */
export function formatLocalMinute(at: Date, timeZone: string): string {
  let format = minuteFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    minuteFormats.set(timeZone, format);
  }
  const parts: Partial<Record<Intl.DateTimeFormatPartTypes, string>> = {};
  for (const part of format.formatToParts(at)) parts[part.type] = part.value;
  const { year = "", month = "", day = "", hour = "", minute = "" } = parts;
  return `${year.padStart(4, "0")}-${month}-${day} ${hour}:${minute}`;
}

/** Calendar arithmetic in UTC: date-fns `format` would use the server's own timezone. */
function nextDay(day: string): string {
  const noon = Date.parse(`${day}T12:00:00Z`);
  return new Date(noon + 86_400_000).toISOString().slice(0, 10);
}

function clock(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}
