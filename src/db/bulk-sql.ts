import { sql, type QueryExecutorProvider, type RawBuilder } from "kysely";
import { PREPARE } from "./prepared-statements.ts";

/**
 * A row for `jsonRows`: its cells as JSON carries them, timestamps as text (`isoTime`).
 * JSON.stringify turns a Date into text through its toJSON method, and one such method
 * takes V8 off its fast path for the whole document: a page of notifications took five
 * times as long to serialize.
 */
export type JsonRow = Readonly<Record<string, JsonCell>>;

type JsonCell =
  string | number | boolean | null | undefined | (object & { toJSON?: never });

/** Texts of recent times: the rows of a batch mostly share theirs (now, a lease). */
const recentTimes = new Map<number, string>();

/** A timestamp as a `jsonRows` cell; null for an invalid one, as JSON makes it. */
export function isoTime(time: Date | null | undefined): string | null {
  if (time == null) return null;
  const ms = time.getTime();
  if (Number.isNaN(ms)) return null;
  let text = recentTimes.get(ms);
  if (text === undefined) {
    if (recentTimes.size >= 64) recentTimes.clear();
    text = time.toISOString();
    recentTimes.set(ms, text);
  }
  return text;
}

/**
 * Many rows as ONE JSON parameter, expanded in SQL by `json_to_recordset`, for bulk
 * writes on the ingest path. A multi-row VALUES list costs a bind parameter per cell:
 * Kysely compiles and pg serializes each one, and Postgres parses and plans a statement
 * whose text differs with every row count. One JSON document is serialized in one
 * native call and planned as the same statement every time.
 *
 * `columns` maps each column to its SQL type; they are constants in the calling
 * repository, never input. The rows come out as `alias` with an extra `ord` column
 * holding each row's position, so that `order by ord` keeps the caller's order (the
 * sorted order that makes concurrent batches take their locks in one order).
 *
 * The document is read as json, which only scans the text. Cells of `json` and
 * `jsonb` columns (raw events, traits, a notification's content) ride beside it, not
 * in it, and each is read once, as its own type. In the document Postgres would read
 * each of them three times (validating the document, taking it apart, reading the
 * cell), or, with the document read as jsonb, build a jsonb value of every cell of
 * every row: a page of notifications took twice as long. `jsonTexts` explains how.
 */
export function jsonRows(
  rows: readonly JsonRow[],
  columns: Readonly<Record<string, string>>,
  alias = "r",
): RawBuilder<unknown> {
  const names = Object.keys(columns);
  const apart = names.filter(
    (name) => columns[name] === "json" || columns[name] === "jsonb",
  );
  if (apart.length === 0) return recordset(rows, columns, alias);
  const texts = jsonTexts();
  const docs = rows.map((row) => {
    const doc: Record<string, JsonCell> = { ...row };
    for (const name of apart) doc[name] = texts.place(row[name]);
    return doc;
  });
  const spans = { ...columns };
  for (const name of apart) spans[name] = "integer[]";
  const cells = names.map((name) =>
    apart.includes(name)
      ? texts.cell(`t.${name}`, name, columns[name] ?? "json")
      : `t.${name}`,
  );
  return sql`(select ${sql.raw([...cells, "t.ord"].join(", "))} from ${recordset(docs, spans, "t")}, ${texts.parameter()}) as ${sql.raw(alias)}`;
}

/** `jsonRows` with every cell in the document. */
function recordset(
  rows: readonly JsonRow[],
  columns: Readonly<Record<string, string>>,
  alias: string,
): RawBuilder<unknown> {
  const names = Object.keys(columns);
  const definitions = names.map((name) => `${name} ${columns[name] ?? ""}`);
  return sql`rows from (json_to_recordset(${JSON.stringify(rows)}::json) as (${sql.raw(definitions.join(", "))})) with ordinality as ${sql.raw(alias)}(${sql.raw([...names, "ord"].join(", "))})`;
}

/**
 * JSON cells packed as UTF-8 into one `bytea` parameter, which pg sends in binary: the
 * document holds where each cell's text lies, and Postgres reads the text once, as the
 * cell is read as json or jsonb, instead of again and again inside the document.
 */
function jsonTexts() {
  const texts: string[] = [];
  let end = 0;
  return {
    /** Packs a cell; returns where its text starts (from 1, as `substring` counts) and its length. */
    place(cell: JsonCell): [number, number] | null {
      if (cell == null) return null;
      const text = JSON.stringify(cell);
      const length = Buffer.byteLength(text);
      texts.push(text);
      end += length;
      return [end - length + 1, length];
    },
    /** The FROM item that binds the packed texts, once, to `packed.texts`. */
    parameter: () =>
      sql`(select ${Buffer.from(texts.join(""))}::bytea as texts) as packed`,
    /** The cell of `type` (json or jsonb) whose span is in `span`, named `name`. */
    cell: (span: string, name: string, type: string) =>
      `convert_from(substring(packed.texts from ${span}[1] for ${span}[2]), 'UTF8')::${type} as ${name}`,
  };
}

/**
 * Runs writes that do not depend on each other as one statement, each in its own WITH
 * clause: one round trip instead of one per write. The writes see the same snapshot
 * and must not touch the same row; each runs to completion although nothing reads it,
 * in the order given, so that they take their row locks in that order. (PostgreSQL
 * runs the data-modifying WITH clauses that nothing reads last clause first: they are
 * written in reverse.) The statement is marked `PREPARE`: the writes must take their
 * rows from `jsonRows` documents and filter on nothing else the values could change
 * the plan of.
 */
export async function executeTogether(
  db: QueryExecutorProvider,
  writes: readonly RawBuilder<unknown>[],
): Promise<void> {
  const [first] = writes;
  if (first === undefined) return;
  if (writes.length === 1) {
    await sql`${PREPARE}${first}`.execute(db);
    return;
  }
  const clauses = [...writes]
    .reverse()
    .map((write, i) => sql`${sql.raw(`w${String(i)}`)} as (${write})`);
  await sql`${PREPARE}with ${sql.join(clauses)} select 1`.execute(db);
}
