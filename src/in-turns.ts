import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * Items handled at most this many at a time: a fan-out page's thousand recipients
 * decided, or its thousand sends started, in one go held every answer from the push
 * services and the database for tens of milliseconds, and each send's slot in the send
 * window with it.
 */
const TURN_SIZE = 100;

/**
 * Maps `items` in chunks of TURN_SIZE, letting the event loop handle what came in
 * between two chunks. For synchronous work over a page that nothing else must see
 * half done.
 */
export async function mapInTurns<T, R>(
  items: readonly T[],
  map: (chunk: readonly T[]) => readonly R[],
): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += TURN_SIZE) {
    if (start > 0) await nextTurn();
    results.push(...map(items.slice(start, start + TURN_SIZE)));
  }
  return results;
}
