import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import { windowOf } from "../rules/delivery-window.ts";
import type { RecipientFacts } from "../rules/policy.ts";
import type { Rule } from "../rules/rule-book.ts";
import type { Settings } from "../rules/rules-file.schema.ts";
import {
  APP_LOOKBACK_MS,
  appOpenHours,
  localOpens,
  OWN_LOOKBACK_MS,
} from "../rules/send-time.ts";
import {
  listAppOpens,
  listOpenHistories,
} from "../stats/open-history.repository.ts";

/** The app's latest opens that its peak hour is read from: enough to find the peak. */
const APP_SAMPLE = 5_000;

/**
 * For a rule whose window learns send times: the recipients' facts with their opens
 * by local hour, and the app's opens per local hour, two statements per page. A rule
 * that does not learn reads nothing and gets its facts back as they were.
 */
export async function withOpenHistories(
  db: Kysely<DB>,
  rule: Rule,
  settings: Settings,
  facts: RecipientFacts[],
  now: Date,
  timezoneOf: (zone: string | null) => string,
): Promise<{ facts: RecipientFacts[]; appOpenHours?: number[] }> {
  const window = windowOf(rule.delivery.window, settings.deliveryWindow);
  if (window?.optimize === undefined || facts.length === 0) return { facts };
  const since = (ms: number) => new Date(now.getTime() - ms);
  const histories = await listOpenHistories(
    db,
    facts.map((f) => f.userId),
    since(OWN_LOOKBACK_MS),
  );
  const app = await listAppOpens(db, since(APP_LOOKBACK_MS), APP_SAMPLE);
  return {
    facts: facts.map((f) => ({
      ...f,
      opens: localOpens(
        histories.get(f.userId) ?? [],
        timezoneOf(f.timezone),
        now,
      ),
    })),
    appOpenHours: appOpenHours(
      app.map((row) => ({ ...row, timezone: timezoneOf(row.timezone) })),
    ),
  };
}
