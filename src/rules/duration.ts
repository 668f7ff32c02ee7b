const UNIT_MS = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;

export const DURATION_PATTERN = /^(\d+)(s|m|h|d|w)$/;

/**
 * The longest duration a rule may name: a year. Longer windows and delays reach dates
 * no one means (a typo's "999999w" ends past year 9999, where dates stop), and they
 * stalled planning and failed intake when they were allowed.
 */
export const MAX_DURATION_MS = 366 * UNIT_MS.d;
export const CLOCK_TIME_PATTERN = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** "90s", "30m", "12h", "1d", "2w" → milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (match === null) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** "21:00" → minutes after midnight; undefined when malformed. */
export function parseClockTime(text: string): number | undefined {
  const match = CLOCK_TIME_PATTERN.exec(text.trim());
  if (match === null) return undefined;
  return Number(match[1]) * 60 + Number(match[2]);
}
