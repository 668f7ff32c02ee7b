import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PREPARE_MARK,
  prepareRepeatedStatements,
} from "../../src/db/prepared-statements.ts";
import {
  createTestDatabase,
  type TestDatabase,
} from "../support/test-database.ts";

/* Prepared statements are a real server's: PGlite runs in this process. */
describe.runIf(Boolean(process.env.TEST_DATABASE_URL))(
  "prepared statements (PostgreSQL)",
  () => {
    let database: TestDatabase;
    let pool: pg.Pool;

    beforeAll(async () => {
      database = await createTestDatabase();
      // One connection, so that what it prepared can be read back on it.
      pool = new pg.Pool({ connectionString: database.url, max: 1 });
      prepareRepeatedStatements(pool);
    });
    afterAll(async () => {
      await pool.end();
      await database.close();
    });

    const prepared = async (): Promise<string[]> => {
      const { rows } = await pool.query<{ statement: string }>(
        "select statement from pg_prepared_statements order by prepare_time",
      );
      return rows.map((row) => row.statement);
    };

    it("when a marked statement with parameters runs a third time, then it is prepared, and every run answers as before", async () => {
      const text = `${PREPARE_MARK} select $1::int + 1 as next`;
      const answers: number[] = [];
      for (let run = 1; run <= 6; run++) {
        const { rows } = await pool.query<{ next: number }>(text, [run]);
        answers.push(rows[0]?.next ?? Number.NaN);
        expect((await prepared()).includes(text)).toBe(run >= 3);
      }
      expect(answers).toEqual([2, 3, 4, 5, 6, 7]);
    });

    it("when a statement is not marked, then it is never prepared, however often it runs", async () => {
      const text = "select $1::int - 1 as previous";
      for (let run = 1; run <= 6; run++) {
        const { rows } = await pool.query<{ previous: number }>(text, [run]);
        expect(rows[0]?.previous).toBe(run - 1);
      }
      expect(await prepared()).not.toContain(text);
    });

    it("when a marked statement has no parameters, then it is never prepared", async () => {
      const text = `${PREPARE_MARK} select 40 + 2 as answer`;
      for (let run = 0; run < 5; run++) {
        const { rows } = await pool.query<{ answer: number }>(text, []);
        expect(rows[0]?.answer).toBe(42);
      }
      await pool.query(text);
      expect(await prepared()).not.toContain(text);
    });

    it("when many marked texts repeat, then at most 100 are prepared and the rest still run", async () => {
      for (let i = 0; i < 120; i++) {
        const text = `${PREPARE_MARK} select $1::int * ${String(i)} as product`;
        for (let run = 0; run < 3; run++) {
          const { rows } = await pool.query<{ product: number }>(text, [2]);
          expect(rows[0]?.product).toBe(2 * i);
        }
      }
      expect(await prepared()).toHaveLength(100);
    });
  },
);
