import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeTogether, jsonRows } from "../../src/db/bulk-sql.ts";
import {
  createTestDatabase,
  type TestDatabase,
} from "../support/test-database.ts";

/*
 * jsonRows reads its document as json, and carries the cells of json and jsonb columns
 * beside the document, placed by their UTF-8 bytes. However the columns are typed,
 * every cell must come back as it was written, in the rows' order.
 */

const ROWS = [
  {
    label: 'quote " backslash \\ newline \n tab \t ünïcödé 🚀 \u0001',
    amount: 42.5,
    flag: true,
    at: "2026-11-23T01:02:03.004Z",
    doc: { b: [1, "two", null], a: { nested: '"x"' }, ключ: true },
    more: "🚀 after a multi-byte cell",
  },
  { label: "", amount: -1, flag: false, at: null, doc: null, more: 0 },
  { label: null, amount: null, flag: null, at: null, doc: [], more: null },
];

type Row = {
  label: string | null;
  amount: number | null;
  flag: boolean | null;
  at: Date | null;
  doc: unknown;
  more: unknown;
  ord: string | number;
};

describe("jsonRows", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.close();
  });

  it.each([
    ["json", "json"],
    ["jsonb", "jsonb"],
    ["json", "jsonb"],
  ])(
    "when the documents' columns are %s and %s, then every cell comes back as written, in order",
    async (docType, moreType) => {
      const columns = {
        label: "text",
        amount: "double precision",
        flag: "boolean",
        at: "timestamptz",
        doc: docType,
        more: moreType,
      };
      const { rows } = await sql<Row>`
        select label, amount, flag, at, doc, more, ord
        from ${jsonRows(ROWS, columns)}
        order by ord`.execute(database.db);

      expect(
        rows.map((row) => ({
          label: row.label,
          amount: row.amount,
          flag: row.flag,
          at: row.at?.toISOString() ?? null,
          doc: row.doc,
          more: row.more,
        })),
      ).toEqual(ROWS);
      expect(rows.map((row) => Number(row.ord))).toEqual([1, 2, 3]);
    },
  );
});

describe("executeTogether", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.close();
  });

  // The order of the writes is the order of their row locks: concurrent statements
  // that list their tables alike cannot deadlock each other.
  it("when writes run together, then they run in the order given", async () => {
    const { db } = database;
    await sql`create table write_order (n serial, label text)`.execute(db);
    const write = (label: string) =>
      sql`insert into write_order (label) select label from ${jsonRows([{ label }], { label: "text" })}`;

    await executeTogether(db, ["first", "second", "third"].map(write));

    const { rows } = await sql<{
      label: string;
    }>`select label from write_order order by n`.execute(db);
    expect(rows.map((row) => row.label)).toEqual(["first", "second", "third"]);
  });
});
