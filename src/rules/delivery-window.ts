import { parseClockTime, parseDuration } from "./duration.ts";
import { liesWithin, type DailySpan } from "./local-time.ts";
import {
  DEFAULT_CONTROL,
  DEFAULT_HALF_LIFE_MS,
  type SendTimeOptimization,
} from "./send-time.ts";

export { liesWithin };

/** Clock times as the rules file writes them, "HH:MM". */
export type ClockSpanSpec = { start: string; end: string };

/** A window's `optimize` as the rules file writes it. */
export type OptimizeSpec = boolean | { control: number; halfLife: string };

/** A delivery window as the rules file writes it. */
export type WindowSpec = ClockSpanSpec & {
  spread: boolean;
  optimize?: OptimizeSpec | undefined;
};

/**
 * The local hours a rule's pushes may go in, in minutes after midnight (`start > end`
 * wraps past midnight), whether a page of recipients is spread over them, and whether
 * each is sent at their learned hour (undefined: no).
 */
export type DeliveryWindow = DailySpan & {
  spread: boolean;
  optimize?: SendTimeOptimization | undefined;
};

/** "21:00"–"08:00" in minutes; undefined when absent (or malformed, which the schema refuses). */
export function dailySpanOf(
  spec: ClockSpanSpec | undefined,
): DailySpan | undefined {
  if (spec === undefined) return undefined;
  const start = parseClockTime(spec.start);
  const end = parseClockTime(spec.end);
  return start === undefined || end === undefined ? undefined : { start, end };
}

/**
 * The window a rule keeps: its own; none when it sets `false`; else the default of
 * the settings, if any. A rule's window replaces the default whole, `spread` included.
 */
export function windowOf(
  own: WindowSpec | false | undefined,
  byDefault: WindowSpec | undefined,
): DeliveryWindow | undefined {
  if (own === false) return undefined;
  const spec = own ?? byDefault;
  const span = dailySpanOf(spec);
  return spec === undefined || span === undefined
    ? undefined
    : { ...span, spread: spec.spread, optimize: optimizationOf(spec.optimize) };
}

/** `optimize: true` is the defaults; false or absent, none. */
function optimizationOf(
  spec: OptimizeSpec | undefined,
): SendTimeOptimization | undefined {
  if (spec === undefined || spec === false) return undefined;
  if (spec === true)
    return { control: DEFAULT_CONTROL, halfLifeMs: DEFAULT_HALF_LIFE_MS };
  return {
    control: spec.control,
    halfLifeMs: parseDuration(spec.halfLife) ?? DEFAULT_HALF_LIFE_MS,
  };
}

/** A problem of a rules file, at a path into its document. */
export type WindowConflict = { path: (string | number)[]; message: string };

type RuleTiming = {
  id: string;
  delivery: { quietHours: boolean; window?: WindowSpec | false | undefined };
};

/**
 * Windows that lie wholly within quiet hours, for the rules that keep both: their
 * pushes would wait forever, each move out of one landing back in the other. Checked
 * when the rules are loaded, so such a rule is refused rather than silently mute.
 */
export function windowConflicts(
  settings: {
    quietHours?: ClockSpanSpec | undefined;
    deliveryWindow?: WindowSpec | undefined;
  },
  rules: readonly RuleTiming[],
): WindowConflict[] {
  const quietSpec = settings.quietHours;
  const quiet = dailySpanOf(quietSpec);
  if (quietSpec === undefined || quiet === undefined) return [];
  if (quiet.start === quiet.end) return [];
  const within = (spec: WindowSpec | undefined) => {
    const span = dailySpanOf(spec);
    return span !== undefined && liesWithin(span, quiet);
  };
  const hours = (spec: ClockSpanSpec) => `${spec.start}–${spec.end}`;
  const quietHours = `settings.quietHours (${hours(quietSpec)})`;
  const conflicts: WindowConflict[] = [];
  const takingDefault: string[] = [];
  rules.forEach((rule, index) => {
    const { window, quietHours: keepsQuiet } = rule.delivery;
    if (!keepsQuiet || window === false) return;
    if (window === undefined) {
      takingDefault.push(`"${rule.id}"`);
    } else if (within(window)) {
      conflicts.push({
        path: ["rules", index, "delivery", "window"],
        message: `${hours(window)} lies within ${quietHours}, so the rule would never send: widen the window, or set delivery.quietHours to false`,
      });
    }
  });
  const byDefault = settings.deliveryWindow;
  if (
    byDefault !== undefined &&
    takingDefault.length > 0 &&
    within(byDefault)
  ) {
    conflicts.push({
      path: ["settings", "deliveryWindow"],
      message: `${hours(byDefault)} lies within ${quietHours}, so the rules that take it and keep quiet hours (${takingDefault.join(", ")}) would never send: widen the window, or give those rules their own`,
    });
  }
  return conflicts;
}
