// The subpath alone: date-fns-tz's index (its formatter) loads all of date-fns, a few
// hundred MB of RSS in every process for one conversion.
import { fromZonedTime } from "date-fns-tz/fromZonedTime";

/**
 * Hours of the local day that recur every day, as minutes after local midnight, from
 * `start` up to `end`; `start > end` wraps past midnight. Quiet hours are one; a
 * delivery window is another, and so are the hours outside it.
 */
export type DailySpan = { start: number; end: number };

/** Whether every minute of `window` falls in `quiet`: such a window never opens outside them. */
export function liesWithin(window: DailySpan, quiet: DailySpan): boolean {
  const covers = (span: DailySpan, minute: number) =>
    span.start <= span.end
      ? minute >= span.start && minute < span.end
      : minute >= span.start || minute < span.end;
  for (let minute = 0; minute < 24 * 60; minute++) {
    if (covers(window, minute) && !covers(quiet, minute)) return false;
  }
  return true;
}

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
 * The first moment at or after `at` that is outside `span` in `timeZone`: where quiet
 * hours end, or a delivery window closes. Wall-clock arithmetic happens in the user's
 * zone, so the end is right on DST-change nights too; an end that falls into a skipped
 * hour resolves to the instant the clocks jump to.
 */
export function endOfDailySpan(
  at: Date,
  span: DailySpan | undefined,
  timeZone: string,
): Date {
  if (span === undefined || span.start === span.end) return at;
  const local = formatLocalMinute(at, timeZone);
  const [day = "", time = ""] = local.split(" ");
  const [hours = 0, minutes = 0] = time.split(":").map(Number);
  const now = hours * 60 + minutes;
  const wraps = span.start > span.end;
  const inside = wraps
    ? now >= span.start || now < span.end
    : now >= span.start && now < span.end;
  if (!inside) return at;
  // Past the start of a span that wraps midnight, the span ends tomorrow.
  const endDay = wraps && now >= span.start ? nextDay(day) : day;
  const end = firstReading(`${endDay} ${clock(span.end)}`, at, timeZone);
  return end > at ? end : at;
}

/**
 * The first moment at or after `at` that is inside `span` in `timeZone`: where a
 * delivery window opens, or quiet hours begin. A span starts where the hours outside
 * it end, so this is `endOfDailySpan` of those hours: one DST implementation for both.
 * A span whose start equals its end is empty to `endOfDailySpan`, so its complement
 * holds every moment; the rules file refuses such a delivery window.
 */
export function startOfDailySpan(
  at: Date,
  span: DailySpan,
  timeZone: string,
): Date {
  return endOfDailySpan(at, { start: span.end, end: span.start }, timeZone);
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

/** How far apart the two readings of a repeated time can be: the sizes of DST shifts. */
const SHIFT_MINUTES = [-120, -60, -30, 30, 60, 120];

/**
 * The first instant at or after `at` when the clocks in `timeZone` read `local`, as
 * `localTimeToInstant` reads it. A time the clocks repeat (fall back) reads twice, and
 * date-fns-tz answers the first reading in some zones and the second in others: a
 * span that ends in the repeated hour ends the first time the clock reads its end
 * after `at`, in every zone.
 */
function firstReading(local: string, at: Date, timeZone: string): Date {
  const instant = localTimeToInstant(local, timeZone);
  let first = instant >= at ? instant : undefined;
  for (const minutes of SHIFT_MINUTES) {
    const other = new Date(instant.getTime() + minutes * 60_000);
    if (other < at || (first !== undefined && other >= first)) continue;
    if (formatLocalMinute(other, timeZone) === local) first = other;
  }
  return first ?? instant;
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
