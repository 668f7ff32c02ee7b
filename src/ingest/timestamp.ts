const LOOSE_ISO =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parses a Segment timestamp. Real payloads (Segment's own docs among them) carry
 * unpadded dates such as "2015-2-02T00:30:08.276Z" that `Date.parse` rejects, so the
 * date parts are padded first. Returns undefined when nothing sensible can be read.
 */
export function parseSegmentTimestamp(value: unknown): Date | undefined {
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value === "number") return finite(new Date(value));
  if (typeof value !== "string") return undefined;
  const match = LOOSE_ISO.exec(value.trim());
  if (match === null) return finite(new Date(value));
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
  return finite(
    new Date(
      `${year}-${pad(month ?? "")}-${pad(day ?? "")}T${pad(hour)}:${pad(minute)}:${pad(second)}${fraction}${offset}`,
    ),
  );
}

function finite(date: Date): Date | undefined {
  return Number.isNaN(date.getTime()) ? undefined : date;
}
