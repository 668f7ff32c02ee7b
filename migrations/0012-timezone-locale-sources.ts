import { sql, type Kysely } from "kysely";

/*
 * Where a profile's timezone and locale came from, so that a value the app set on
 * purpose (an identify's `traits.timezone` / `traits.locale`) is not replaced by the
 * browser's or device's own (`context.*`), which analytics.js sends on every call:
 * 'trait' or 'context', null while the value is unset.
 *
 * Existing rows did not record it. An identify's traits are merged into
 * `profiles.traits`, so a profile whose traits hold a non-empty string `timezone` or
 * `locale` was given one on purpose, and under the new precedence that value is the
 * profile's: it is taken back from the traits, which also repairs the profiles whose
 * chosen language a browser's locale had overwritten. Every other value present came
 * from context as far as anyone can tell, and is marked so. Nothing else is rewritten;
 * the update touches each profile that has a timezone or locale once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table profiles
      add column timezone_source text
        constraint profiles_timezone_source_check check (timezone_source in ('trait', 'context')),
      add column locale_source text
        constraint profiles_locale_source_check check (locale_source in ('trait', 'context'))`.execute(
    db,
  );
  for (const column of ["timezone", "locale"]) {
    const value = sql.ref(column);
    const source = sql.ref(`${column}_source`);
    const trait = sql`btrim(traits ->> ${column})`;
    await sql`
      update profiles set ${value} = ${trait}, ${source} = 'trait'
      where jsonb_typeof(traits -> ${column}) = 'string' and ${trait} <> ''`.execute(
      db,
    );
    await sql`
      update profiles set ${source} = 'context'
      where ${value} is not null and ${source} is null`.execute(db);
  }
}
