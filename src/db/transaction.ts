import type { Transaction } from "kysely";
import type { Database } from "./database.ts";
import type { DB } from "./schema.ts";

const RETRYABLE_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
]);
/**
 * Tries of a transaction that Postgres keeps aborting. Writers take their locks in one
 * order (src/profiles/lock-order.ts), so a deadlock is rare and a second try nearly
 * always passes; the rest is for bursts on one user from many processes at once.
 */
const MAX_ATTEMPTS = 8;
/**
 * The longest wait between two tries: all of them add up to under 2 s, beside the
 * second PostgreSQL waits (deadlock_timeout) before it detects each deadlock.
 */
const MAX_BACKOFF_MS = 400;

/** The SQLSTATE of a Postgres error (pg and PGlite both expose it as `code`). */
export function sqlState(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const { code } = error;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/**
 * Runs `work` in a transaction, retrying it from the start when Postgres aborts it
 * for a deadlock or serialization failure: those are transient by definition.
 */
export async function inTransaction<T>(
  db: Database,
  work: (trx: Transaction<DB>) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (error) {
      const state = sqlState(error);
      if (
        attempt >= MAX_ATTEMPTS ||
        state === undefined ||
        !RETRYABLE_SQLSTATES.has(state)
      ) {
        throw error;
      }
      // Full jitter: transactions that collided do not collide again in step.
      const ceiling = Math.min(MAX_BACKOFF_MS, 10 * 2 ** attempt);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.random() * ceiling),
      );
    }
  }
}
