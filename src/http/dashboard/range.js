// The date range every view shows: a preset (24 h, 7 d, 30 d) or custom days, and the
// time buckets its charts are drawn in (hours for two days or less, else days, in UTC
// as the stats API counts them).

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const PRESETS = [
  ["24h", "Last 24 hours", DAY],
  ["7d", "Last 7 days", 7 * DAY],
  ["30d", "Last 30 days", 30 * DAY],
];

/** The range of a preset ending now, or of custom days (both included). */
export function rangeOf({ preset, fromDay, toDay }, now = new Date()) {
  let from;
  let to;
  if (preset === "custom") {
    from = new Date(`${fromDay}T00:00:00Z`);
    to = new Date(new Date(`${toDay}T00:00:00Z`).getTime() + DAY);
  } else {
    // Whole hours, so that every bucket of the chart is a whole one.
    to = new Date(Math.ceil(now.getTime() / HOUR) * HOUR);
    const span = (PRESETS.find(([id]) => id === preset) ?? PRESETS[1])[2];
    from = new Date(to.getTime() - span);
  }
  const bucket = to.getTime() - from.getTime() <= 2 * DAY ? "hour" : "day";
  return { from, to, bucket };
}

/** The chart's buckets, as the stats API names its groups. */
export function bucketsOf({ from, to, bucket }) {
  const step = bucket === "hour" ? HOUR : DAY;
  const start = Math.floor(from.getTime() / step) * step;
  const keys = [];
  for (let t = start; t < to.getTime(); t += step) {
    const iso = new Date(t).toISOString();
    keys.push(
      bucket === "hour" ? `${iso.slice(0, 13)}:00:00Z` : iso.slice(0, 10),
    );
  }
  return keys;
}

/** A bucket's name on an axis: "14:00" or "Jul 3". */
export function bucketLabel(key, bucket) {
  if (bucket === "hour") return `${key.slice(11, 16)}`;
  const date = new Date(`${key}T00:00:00Z`);
  return date.toLocaleDateString("en", {
    month: "short",
    day: "numeric",
    timeZone: "UTC",
  });
}

/** The range in words for the header. */
export function describeRange({ from, to, bucket }) {
  const day = (d) => d.toISOString().slice(0, 10);
  const per = bucket === "hour" ? "per hour" : "per day";
  return `${day(from)} – ${day(new Date(to.getTime() - 1))} (UTC, ${per})`;
}
