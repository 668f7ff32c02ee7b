import type { RuleSpec } from "./rules-file.schema.ts";

/*
 * A rule's defaults that depend on its other fields. A silent message shows nothing,
 * so the night and the user's cap are not at stake: it ignores both unless told.
 */

/** Whether the rule's pushes wait out quiet hours. */
export function keepsQuietHours(spec: RuleSpec): boolean {
  return spec.delivery.quietHours ?? !spec.message.silent;
}

/** Whether settings.frequencyCap stops the rule's pushes and counts them. */
export function countsTowardCaps(spec: RuleSpec): boolean {
  return spec.delivery.caps ?? !spec.message.silent;
}
