import { sql } from "kysely";
import type pg from "pg";

/** How a statement that may be prepared begins: `PREPARE` as text. */
export const PREPARE_MARK = "/* prepare */";

/**
 * Begins a statement that may be prepared: one whose plan cannot depend on its
 * parameters' values, such as writes of rows passed as one document (`jsonRows`)
 * and lookups that probe a key once per id. See `prepareRepeatedStatements`.
 */
export const PREPARE = sql.raw(`${PREPARE_MARK} `);

/** Runs of a statement text in this process before it is prepared. */
const RUNS_BEFORE_PREPARING = 3;
/** Statement texts a process prepares at most: each costs memory in every backend. */
const MAX_PREPARED = 100;
/** Texts whose runs are counted at once; the count starts over beyond it. */
const MAX_COUNTED = 1_000;

type Query = (text: unknown, values?: unknown, ...rest: unknown[]) => unknown;

/**
 * Server-side prepared statements for the statements Nudge runs over and over, as
 * pgjdbc does it. A statement that begins with `PREPARE`, has parameters and has run
 * three times in this process gets a name; each connection that runs it then parses
 * it once under that name, and afterwards only binds and executes it. After five runs
 * Postgres also keeps a generic plan when that costs no more than planning each run,
 * so ingest's write of a batch and its alias lookups are no longer parsed and planned
 * every time: that matters for small webhooks, whose statements are many.
 *
 * Only statements marked with `PREPARE`: a generic plan is planned without the
 * values, and where they matter it can be far worse. Statements filtered by a time
 * range or paged through an audience get such plans: the stats queries and the
 * fan-out's pages are left unprepared. At most MAX_PREPARED texts are named, so a
 * marked statement whose text varies with its input cannot fill a backend's memory.
 * Behind a pooler that hands each transaction to any server connection, such as
 * PgBouncer before 1.21 in transaction mode, named statements go missing: turn this
 * off there.
 */
export function prepareRepeatedStatements(pool: pg.Pool): void {
  const runs = new Map<string, number>();
  const names = new Map<string, string>();

  const nameOf = (text: string): string | undefined => {
    const known = names.get(text);
    if (known !== undefined || names.size >= MAX_PREPARED) return known;
    const count = (runs.get(text) ?? 0) + 1;
    if (count < RUNS_BEFORE_PREPARING) {
      if (runs.size >= MAX_COUNTED) runs.clear();
      runs.set(text, count);
      return undefined;
    }
    runs.delete(text);
    const name = `nudge_${String(names.size + 1)}`;
    names.set(text, name);
    return name;
  };

  pool.on("connect", (client) => {
    const query = client.query.bind(client) as Query;
    // Only the text becomes a named one: values and a callback pass as they came.
    const prepared: Query = (text, values, ...rest) => {
      const name =
        typeof text === "string" &&
        text.startsWith(PREPARE_MARK) &&
        Array.isArray(values) &&
        values.length > 0
          ? nameOf(text)
          : undefined;
      return query(name === undefined ? text : { name, text }, values, ...rest);
    };
    client.query = prepared as typeof client.query;
  });
}
