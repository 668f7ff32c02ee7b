import { z } from "zod";
import {
  CLOCK_TIME_PATTERN,
  DURATION_PATTERN,
  MAX_DURATION_MS,
  parseDuration,
} from "./duration.ts";

/*
 * The rules file's words for time: durations, clock times and delivery windows, with
 * a window's learned send time. Apart from rules-file.schema.ts so that each stays
 * small enough to read in one sitting.
 */

export const duration = z
  .string()
  .regex(
    DURATION_PATTERN,
    'must be a duration such as "90s", "30m", "12h", "1d" or "2w"',
  )
  .refine((text) => (parseDuration(text) ?? 0) <= MAX_DURATION_MS, {
    message: 'must be a year or less ("366d", "52w")',
  })
  .meta({
    description: "A number and a unit (s, m, h, d or w), a year at most.",
    examples: ["30m", "12h", "1d"],
  });

export const clockTime = z
  .string()
  .regex(CLOCK_TIME_PATTERN, 'must be a 24-hour time "HH:MM"')
  .meta({ examples: ["21:00", "08:00"] });

/** `delivery.window.optimize` as an object: send-time.ts reads it. */
const sendTimeOptions = z.strictObject({
  control: z.number().min(0).max(0.5).default(0.1).meta({
    description:
      "share of the audience sent at the window's opening instead, to measure the lift (0 to 0.5, default 0.1)",
  }),
  halfLife: duration.default("14d").meta({
    description:
      "how fast a user's past opens count less: an open this old counts half (default 14d)",
  }),
});

const optimize = z
  .union([z.boolean(), sendTimeOptions])
  .default(false)
  .meta({
    description:
      "send each user at the hour of the window they most often open pushes (else the app's peak hour, else the opening); true, or {control, halfLife}",
    examples: [true, { control: 0.2, halfLife: "7d" }],
  });

export const deliveryWindow = z
  .strictObject({
    start: clockTime,
    end: clockTime,
    spread: z.boolean().default(false).meta({
      description:
        "spread an audience's sends evenly over what is left of the window, instead of sending them all when it opens",
    }),
    optimize,
  })
  .refine((window) => window.start !== window.end, {
    message:
      "start and end are the same time, so the window would never open: to send at any hour, leave the window out",
    path: ["end"],
  })
  // Both place each user's push in the window: spread by a random draw, optimize by
  // the user's habits. Spread over a learned hour would blur the hour it learned.
  .refine((window) => !(window.spread && window.optimize !== false), {
    message:
      "spread and optimize both choose where each user's push falls in the window: keep one of them",
    path: ["optimize"],
  })
  .meta({
    description:
      "local hours (in each user's timezone) that pushes are sent in; start > end spans midnight",
    examples: [
      { start: "18:00", end: "22:00", spread: true },
      { start: "09:00", end: "21:00", optimize: true },
    ],
  });
