const LOOSE_ISO =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parses a Segment timestamp. Real payloads (Segment's own docs among them) carry
 * unpadded dates such as "2015-2-02T00:30:08.276Z" that `Date.parse` rejects, so the
 * date parts are padded first. Returns undefined when nothing sensible can be read,
 * and for a time before 1970 or after 2999: no event happens there, but clients send
 * such times (Go's zero time is year 1, a reset clock says 1970 or earlier), and
 * PostgreSQL refuses the dates the rules' windows would then reach (year 0 and before,
 * or past 9999).
 */
export function parseSegmentTimestamp(value: unknown): Date | undefined {
  if (value instanceof Date) return sensible(value);
  if (typeof value === "number") return sensible(new Date(value));
  if (typeof value !== "string") return undefined;
  const match = LOOSE_ISO.exec(value.trim());
  if (match === null) return sensible(new Date(value));
  const [
    ,
    year,
    month,
    day,
    hour = "0",
    minute = "0",
    second = "0",
    fraction = "",
    zone,
  ] = match;
  const pad = (part: string) => part.padStart(2, "0");
  const offset = zone === undefined || zone.toUpperCase() === "Z" ? "Z" : zone;
  return sensible(
    new Date(
      `${year}-${pad(month ?? "")}-${pad(day ?? "")}T${pad(hour)}:${pad(minute)}:${pad(second)}${fraction}${offset}`,
    ),
  );
}

function sensible(date: Date): Date | undefined {
  return isSensibleTime(date) ? date : undefined;
}

/**
 * Whether a time lies in 1970–2999, where Nudge reads and stores times: the intake's
 * timestamps, and the times the admin API is asked about.
 */
export function isSensibleTime(date: Date): boolean {
  const year = date.getUTCFullYear();
  return year >= 1970 && year <= 2999;
}
