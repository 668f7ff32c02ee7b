/**
 * Which of the soak's calls Nudge acknowledged, and whether each of those is stored
 * exactly once. Every call gets a messageId `<run>-<n>` from one counter, so the ledger
 * keeps a byte per call instead of the ids themselves: a long soak sends millions.
 */
import { randomUUID } from "node:crypto";
import { adminQuery } from "./support.ts";

export type Ledger = {
  /** A new call's number; its messageId is `idOf(n)`. */
  issue(): number;
  idOf(n: number): string;
  /** The calls of a request that was answered 2xx with every call accepted. */
  acknowledge(numbers: readonly number[]): void;
  issued(): number;
  acknowledged(): number;
  /** The acknowledged messageIds, `size` at a time. */
  acknowledgedIds(size: number): Generator<string[]>;
};

export function createLedger(): Ledger {
  const run = `soak-${randomUUID().slice(0, 8)}`;
  let flags = new Uint8Array(1 << 16);
  let issued = 0;
  let acknowledged = 0;
  return {
    issue() {
      if (issued === flags.length) {
        const grown = new Uint8Array(flags.length * 2);
        grown.set(flags);
        flags = grown;
      }
      return issued++;
    },
    idOf: (n) => `${run}-${String(n)}`,
    acknowledge(numbers) {
      for (const n of numbers) {
        if (flags[n] === 1) continue;
        flags[n] = 1;
        acknowledged++;
      }
    },
    issued: () => issued,
    acknowledged: () => acknowledged,
    *acknowledgedIds(size) {
      let chunk: string[] = [];
      for (let n = 0; n < issued; n++) {
        if (flags[n] !== 1) continue;
        chunk.push(`${run}-${String(n)}`);
        if (chunk.length === size) {
          yield chunk;
          chunk = [];
        }
      }
      if (chunk.length > 0) yield chunk;
    },
  };
}

export type StoredCheck = {
  acknowledged: number;
  /** Acknowledged calls found in the events table (each counted once per row). */
  stored: number;
  /** Acknowledged calls not found. */
  missing: number;
  /** Rows beyond one per acknowledged call: a messageId stored twice. */
  duplicates: number;
  /** Rows in the events table that no acknowledgement accounts for (failed requests that were stored). */
  unacknowledgedRows: number;
};

/** Ids per query: `= any($1)` with a text array, one index probe each. */
const CHUNK = 10_000;

/**
 * Counts, chunk by chunk, the events rows of the acknowledged messageIds: one row each
 * means stored exactly once. Rows are counted, not ids, so a second row would show.
 */
export async function checkStoredOnce(
  databaseUrl: string,
  ledger: Ledger,
): Promise<StoredCheck> {
  let rows = 0;
  let found = 0;
  for (const ids of ledger.acknowledgedIds(CHUNK)) {
    const [row] = await adminQuery<{ rows: number; distinct: number }>(
      databaseUrl,
      `select count(*)::int as rows, count(distinct message_id)::int as distinct
      from events where message_id = any($1::text[])`,
      [ids],
    );
    rows += row?.rows ?? 0;
    found += row?.distinct ?? 0;
  }
  const [total] = await adminQuery<{ count: number }>(
    databaseUrl,
    "select count(*)::int as count from events",
  );
  const acknowledged = ledger.acknowledged();
  return {
    acknowledged,
    stored: found,
    missing: acknowledged - found,
    duplicates: rows - found,
    unacknowledgedRows: (total?.count ?? 0) - rows,
  };
}
