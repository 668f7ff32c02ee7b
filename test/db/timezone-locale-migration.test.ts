import { sql } from "kysely";
import { Migrator } from "kysely/migration";
import { afterAll, describe, expect, it } from "vitest";
import { migrations } from "../../migrations/index.ts";
import { openDatabase } from "../../src/db/database.ts";
import { migrateToLatest } from "../../src/db/migrator.ts";

const db = await openDatabase({ dataDir: "memory://" });
afterAll(() => db.destroy());

describe("migration 0012: where a stored timezone and locale came from", () => {
  it("when profiles stored before it hold a timezone or locale, then ones kept in their traits count as chosen and the rest as from context", async () => {
    const before = Object.fromEntries(
      Object.entries(migrations).filter(([name]) => name < "0012"),
    );
    const migrator = new Migrator({
      db,
      provider: { getMigrations: () => Promise.resolve(before) },
    });
    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    await sql`
      insert into profiles (user_id, traits, timezone, locale) values
        ('overwritten', '{"locale": " de-DE ", "timezone": "Europe/Berlin"}', 'America/New_York', 'en-US'),
        ('from-context', '{"plan": "pro"}', 'UTC', 'fr-FR'),
        ('not-a-string', '{"locale": 7}', null, 'en-GB'),
        ('nothing', '{}', null, null)`.execute(db);

    await migrateToLatest(db);

    const { rows } = await sql`
      select user_id, timezone, timezone_source, locale, locale_source
      from profiles order by user_id`.execute(db);
    expect(rows).toEqual([
      {
        user_id: "from-context",
        timezone: "UTC",
        timezone_source: "context",
        locale: "fr-FR",
        locale_source: "context",
      },
      {
        user_id: "not-a-string",
        timezone: null,
        timezone_source: null,
        locale: "en-GB",
        locale_source: "context",
      },
      {
        user_id: "nothing",
        timezone: null,
        timezone_source: null,
        locale: null,
        locale_source: null,
      },
      {
        user_id: "overwritten",
        timezone: "Europe/Berlin",
        timezone_source: "trait",
        locale: "de-DE",
        locale_source: "trait",
      },
    ]);
  });
});
