import { Writable } from "node:stream";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  vi,
} from "vitest";
import { createLogger, type Logger } from "../../src/logger.ts";
import { compileRuleBook, RulesFileError } from "../../src/rules/rule-book.ts";
import { createRuleStore, type RuleStore } from "../../src/rules/rule-store.ts";
import { putRule, removeRule } from "../../src/rules/rules-document.ts";
import { exampleRules } from "../support/test-app.ts";
import {
  connectAgain,
  createTestDatabase,
  type TestDatabase,
} from "../support/test-database.ts";

/** A fresh, mutable copy of examples/rules.json. */
function example(): any {
  return structuredClone(exampleRules);
}

const extraRule = {
  id: "welcome",
  trigger: 'type = "identify"',
  message: { title: "Welcome", body: "Hi {{ profile.traits.first_name }}" },
};

let dir: string;
let database: TestDatabase;
let logLines: any[];
let logger: Logger;
const stores: RuleStore[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "nudge-rule-store-"));
  database = await createTestDatabase();
});

afterAll(async () => {
  await database.close();
  await rm(dir, { recursive: true, force: true });
});

// The stored rules are what these tests are about: each starts with none.
beforeEach(async () => {
  await database.db.deleteFrom("rules_documents").execute();
  logLines = [];
  logger = createLogger(
    "info",
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(JSON.parse(chunk.toString()));
        done();
      },
    }),
  );
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.stop();
});

async function rulesFile(document: unknown, name = "rules.json") {
  const file = join(dir, `${Math.random().toString(36).slice(2)}-${name}`);
  await writeFile(file, JSON.stringify(document, null, 2));
  return file;
}

/** A Nudge process's rule store, on this test's database unless another connection is given. */
async function start(file: string | undefined, db = database.db) {
  const store = await createRuleStore({ db, logger, file });
  stores.push(store);
  return store;
}

const addRule = (rule: Record<string, unknown>) => (document: any) => ({
  document: putRule(document, rule).document,
  result: undefined,
});

async function storedRows() {
  return database.db
    .selectFrom("rules_documents")
    .select(["version", "source"])
    .orderBy("updated_at")
    .execute();
}

describe("starting with a rules file", () => {
  it("when nothing is stored, then the file is stored as the first version and is in force", async () => {
    const store = await start(await rulesFile(example()));
    const book = store.current();
    expect(book.rules.map((rule) => rule.id)).toEqual([
      "wishlist-on-sale",
      "cart-abandoned",
      "back-in-stock",
      "refresh-wishlist",
    ]);
    expect(await storedRows()).toEqual([
      { version: book.version, source: "file" },
    ]);
    expect(book.document).toEqual(example());

    // Another process reads the document back as written, keys in their order.
    const other = (await start(undefined)).current();
    expect(other.version).toBe(book.version);
    expect(JSON.stringify(other.document)).toBe(JSON.stringify(example()));
  });

  it("when there is no RULES_FILE and nothing stored, then the rule book is empty and nothing is stored", async () => {
    const store = await start(undefined);
    expect(store.current().rules).toEqual([]);
    expect(store.current().collections).toEqual([]);
    expect(await storedRows()).toEqual([]);
  });

  it("when a rule was added through the API and the process restarts with the same file, then the edit is kept", async () => {
    const file = await rulesFile(example());
    const first = await start(file);
    const { book: edited } = await first.update(addRule(extraRule));
    await first.stop();

    // Reformatting the file changes its bytes, not its content.
    await writeFile(file, JSON.stringify(example()));
    const restarted = await start(file);
    expect(restarted.current().version).toBe(edited.version);
    expect(restarted.current().rules.map((rule) => rule.id)).toContain(
      "welcome",
    );
    expect((await storedRows()).map((row) => row.source)).toEqual([
      "file",
      "api",
    ]);
  });

  it("when the file changed since it was last loaded, then the file wins over API edits", async () => {
    const file = await rulesFile(example());
    const first = await start(file);
    await first.update(addRule(extraRule));

    const changed = example();
    changed.rules = changed.rules.filter((r: any) => r.id !== "cart-abandoned");
    await writeFile(file, JSON.stringify(changed));
    const restarted = await start(file);
    expect(restarted.current().rules.map((rule) => rule.id)).toEqual([
      "wishlist-on-sale",
      "back-in-stock",
      "refresh-wishlist",
    ]);
    expect((await storedRows()).at(-1)?.source).toBe("file");

    // Back to the first file: it was not the file loaded last, so it wins again.
    await writeFile(file, JSON.stringify(example()));
    const again = await start(file);
    expect(again.current().version).toBe(
      compileRuleBook(example(), "example").version,
    );
    expect(again.current().rules).toHaveLength(example().rules.length);
  });

  it("when the rules file is invalid, then startup is refused naming the rule and the field, and nothing is stored", async () => {
    const bad = example();
    bad.rules[1].trigger = "event = ";
    bad.rules[1].category = "newsletter";
    const failure = await start(await rulesFile(bad)).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(RulesFileError);
    const { problems } = failure as RulesFileError;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('rules[1] "cart-abandoned".trigger'),
        expect.stringContaining('rules[1] "cart-abandoned".category'),
      ]),
    );
    expect(await storedRows()).toEqual([]);
  });

  it("when the rules file cannot be read, then startup is refused", async () => {
    await expect(start(join(dir, "missing.json"))).rejects.toThrow(
      /cannot be read/,
    );
  });
});

describe("several processes on one database", () => {
  it("when another process stores a version, then reload, refresh and the poll pick it up", async () => {
    const file = await rulesFile(example());
    const here = await start(file);
    const connection = await connectAgain(database);
    try {
      const there = await start(file, connection.db);
      const { book } = await there.update(addRule(extraRule));
      expect(here.current().version).not.toBe(book.version);
      expect((await here.reload()).version).toBe(book.version);

      const { book: next } = await there.update((document) => ({
        document: removeRule(document, "welcome") ?? document,
        result: undefined,
      }));
      expect((await here.refresh()).version).toBe(next.version);

      const polled = await createRuleStore({
        db: database.db,
        logger,
        file,
        pollEveryMs: 10,
      });
      stores.push(polled);
      polled.start();
      const { book: latest } = await there.update(addRule(extraRule));
      await vi.waitFor(() => {
        expect(polled.current().version).toBe(latest.version);
      });
    } finally {
      await connection.close();
    }
  });

  it("when two processes edit at the same time, then neither edit is lost", async () => {
    const file = await rulesFile(example());
    const here = await start(file);
    const connection = await connectAgain(database);
    try {
      const there = await start(file, connection.db);
      const ids = Array.from({ length: 6 }, (_, i) => `rule-${i}`);
      await Promise.all(
        ids.map((id, i) =>
          (i % 2 === 0 ? here : there).update(addRule({ ...extraRule, id })),
        ),
      );
      const rules = (await here.refresh()).rules.map((rule) => rule.id);
      expect(rules).toEqual(expect.arrayContaining(ids));
      expect(rules).toHaveLength(
        (example().rules as unknown[]).length + ids.length,
      );
    } finally {
      await connection.close();
    }
  });

  it("when an edit is undone, then the earlier version is in force again", async () => {
    const store = await start(await rulesFile(example()));
    const original = store.current().version;
    await store.update(addRule(extraRule));
    const { book } = await store.update((document) => ({
      document: removeRule(document, "welcome") ?? document,
      result: undefined,
    }));
    expect(book.version).toBe(original);
    expect((await start(undefined)).current().version).toBe(original);
  });

  it("when a stored document does not compile, then it is logged once and the rules in force stay", async () => {
    const store = await start(await rulesFile(example()));
    const before = store.current().version;
    await sql`insert into rules_documents (version, document, source, updated_at)
      values ('broken', ${JSON.stringify({ rules: [{ id: "x" }] })}::jsonb, 'api', now() + interval '1 hour')`.execute(
      database.db,
    );
    expect((await store.refresh()).version).toBe(before);
    expect((await store.refresh()).version).toBe(before);
    const errors = logLines.filter((line) => line.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      version: "broken",
      keptVersion: before,
    });
  });

  it("when an edit would make the rules invalid, then it is refused and nothing is stored", async () => {
    const store = await start(await rulesFile(example()));
    const before = await storedRows();
    await expect(
      store.update(addRule({ ...extraRule, trigger: "event = " })),
    ).rejects.toBeInstanceOf(RulesFileError);
    expect(await storedRows()).toEqual(before);
  });
});
