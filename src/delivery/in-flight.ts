import type { RecipientFacts } from "../rules/policy.ts";
import type { InFlight } from "./handoff.ts";
import type { FactsQuery } from "./recipient.repository.ts";

/**
 * The facts with notifications in flight counted: they have no row
 * until their outcome is written, and the caps and dedupe must see them all the same.
 */
export function withInFlight(
  facts: readonly RecipientFacts[],
  query: FactsQuery,
  inFlightOf: (userId: string) => readonly InFlight[],
): RecipientFacts[] {
  return facts.map((recipient) => {
    const flying = inFlightOf(recipient.userId);
    if (flying.length === 0) return recipient;
    const ofRule = flying.filter((f) => f.ruleId === query.ruleId);
    return {
      ...recipient,
      recentTotal:
        recipient.recentTotal +
        (query.globalCapSince === undefined
          ? 0
          : flying.filter((f) => !f.uncapped).length),
      recentForRule:
        recipient.recentForRule +
        (query.ruleCapSince === undefined ? 0 : ofRule.length),
      duplicate:
        recipient.duplicate ||
        (query.dedupeSince !== undefined &&
          ofRule.some((f) => f.itemKey === query.itemKey)),
    };
  });
}
