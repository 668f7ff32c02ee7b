import type { SendOutcome } from "../../src/providers/provider.ts";

/**
 * Sends a new push at a time until one is sent or `withinMs` has passed: what a queue
 * does while its provider comes back. Returns the outcomes on the way and how long
 * it took (ms).
 */
export async function sendUntilSent(
  send: () => Promise<SendOutcome>,
  withinMs: number,
): Promise<{ outcomes: SendOutcome[]; ms: number }> {
  const started = performance.now();
  const outcomes: SendOutcome[] = [];
  do {
    const outcome = await send();
    outcomes.push(outcome);
    if (outcome.kind === "sent") break;
  } while (performance.now() - started < withinMs);
  return { outcomes, ms: performance.now() - started };
}
