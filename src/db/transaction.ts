import type { Transaction } from "kysely";
import type { Database } from "./database.ts";
import type { DB } from "./schema.ts";

const RETRYABLE_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
]);
const MAX_ATTEMPTS = 4;

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
      await new Promise((resolve) =>
        setTimeout(resolve, Math.random() * 20 * attempt),
      );
    }
  }
}
