import type { Kysely } from "kysely";
import type { Database } from "../db/database.ts";
import type { DB } from "../db/schema.ts";
import type { Logger } from "../logger.ts";
import type { Rule, RuleBook } from "../rules/rule-book.ts";
import { createWorkerLoop, type WorkerLoop } from "../worker-loop.ts";
import {
  countLooks,
  findWinners,
  nthSendTimes,
  recordWinner,
  type StoredWinner,
} from "./rule-winners.repository.ts";
import {
  decideWinner,
  dueLooks,
  lookCutoffs,
  lookSizes,
  type WinnerFigures,
} from "./winner-decision.ts";

/**
 * Looks are days apart at most rates: a check a minute finds each soon enough, and
 * costs nothing between tests (rules without a running test are not read).
 */
const CHECK_EVERY_MS = 60_000;

/** A rule version's test outcome as the admin API shows it. */
export type WinnerView = {
  /** The variant promoted; null when the test ended without a winner. */
  variant: string | null;
  decidedAt: Date;
  metric: string;
  ruleVersion: string;
  figures: WinnerFigures;
};

export function winnerView(stored: StoredWinner): WinnerView {
  const { variant, decidedAt, metric, ruleVersion, figures } = stored;
  return { variant, decidedAt, metric, ruleVersion, figures };
}

/** The rules whose variants a test may promote one of. */
const tested = (rules: readonly Rule[]) =>
  rules.filter(
    (rule) => rule.autoWinner !== undefined && (rule.variants?.length ?? 0) > 1,
  );

/**
 * The variant promoted for each of these rules' current versions, by rule id: one
 * query for a whole page or batch of recipients, none for rules without a test.
 */
export async function promotedVariants(
  db: Kysely<DB>,
  rules: readonly Rule[],
): Promise<Map<string, string>> {
  const winners = await findWinners(db, tested(rules));
  const promoted = new Map<string, string>();
  for (const [ruleId, stored] of winners)
    if (stored.variant !== null) promoted.set(ruleId, stored.variant);
  return promoted;
}

/** The outcome of a rule's current test: null while it runs, undefined without one. */
export async function currentWinner(
  db: Kysely<DB>,
  rule: Rule,
): Promise<WinnerView | null | undefined> {
  if (tested([rule]).length === 0) return undefined;
  const stored = (await findWinners(db, [rule])).get(rule.id);
  return stored === undefined ? null : winnerView(stored);
}

/**
 * Takes the due looks of every running test (enabled rules with `autoWinner`, no
 * outcome recorded for their version) and records the outcomes they reach. Returns
 * the outcomes recorded.
 */
export async function checkWinners(
  db: Kysely<DB>,
  book: RuleBook,
  now: Date,
): Promise<StoredWinner[]> {
  const rules = tested(book.rules.filter((rule) => rule.enabled));
  const decided = await findWinners(db, rules);
  const recorded: StoredWinner[] = [];
  for (const rule of rules) {
    if (decided.has(rule.id)) continue;
    const outcome = await judgeRule(db, rule, now);
    if (outcome === undefined) continue;
    await recordWinner(db, outcome);
    recorded.push(outcome);
  }
  return recorded;
}

async function judgeRule(
  db: Kysely<DB>,
  rule: Rule,
  now: Date,
): Promise<StoredWinner | undefined> {
  const test = rule.autoWinner;
  const variants = (rule.variants ?? []).map((v) => v.id);
  if (test === undefined) return undefined;
  const nth = await nthSendTimes(db, rule, variants, lookSizes(test.minSent));
  const due = dueLooks(lookCutoffs(variants, nth), test.windowMs, now);
  if (due.length === 0) return undefined;
  const looks = await countLooks(db, rule, variants, due, {
    column: test.metric === "open" ? "opened_at" : "converted_at",
    windowMs: test.windowMs,
  });
  const decision = decideWinner(test.confidence, looks);
  if (decision.kind === "wait") return undefined;
  return {
    ruleId: rule.id,
    ruleVersion: rule.version,
    variant: decision.kind === "winner" ? decision.variant : null,
    metric: test.metric,
    decidedAt: now,
    figures: decision.figures,
  };
}

/** Checks the running tests in the background, in every process; the first to decide records it. */
export function createWinnerCheck(deps: {
  db: Database;
  logger: Logger;
  clock: () => Date;
  rules: { current(): RuleBook };
}): WorkerLoop {
  const logger = deps.logger.child({ module: "auto-winner" });
  return createWorkerLoop({
    logger,
    idleMs: CHECK_EVERY_MS,
    failure: "auto-winner check failed",
    step: async () => {
      const recorded = await checkWinners(
        deps.db,
        deps.rules.current(),
        deps.clock(),
      );
      for (const { ruleId, ruleVersion, variant, figures } of recorded)
        logger.info(
          { ruleId, ruleVersion, variant, look: figures.look },
          variant === null
            ? "auto-winner test ended without a winner"
            : "auto-winner promoted a variant",
        );
      return false;
    },
  });
}
