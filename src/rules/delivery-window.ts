import { parseClockTime } from "./duration.ts";
import type { DailySpan } from "./local-time.ts";

/** Clock times as the rules file writes them, "HH:MM". */
export type ClockSpanSpec = { start: string; end: string };

/** A delivery window as the rules file writes it. */
export type WindowSpec = ClockSpanSpec & { spread: boolean };

/**
 * The local hours a rule's pushes may go in, in minutes after midnight (`start > end`
 * wraps past midnight), and whether a page of recipients is spread over them.
 */
export type DeliveryWindow = DailySpan & { spread: boolean };

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
    : { ...span, spread: spec.spread };
}

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
