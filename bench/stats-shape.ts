/**
 * What the stats benchmark's database holds once loaded, read back from its tables:
 * the proof of the data's shape, and its tables for the report.
 */
import { sql, type Kysely } from "kysely";
import type { DB } from "../src/db/schema.ts";
import { MEASURED_RULE } from "./stats-rules.ts";
import { formatNumber } from "./support.ts";

/** Rows by group, for the data section of the report. */
export type ShapeCount = { key: string; detail: string; count: number };

/** What the loaded data holds: the proof of its shape, read back from the tables. */
export type LoadedShape = {
  tables: { name: string; rows: number; heapMiB: number; indexMiB: number }[];
  rules: ShapeCount[];
  /** The measured rule's notifications by status and reason. */
  outcomes: ShapeCount[];
  /** The measured rule's notifications by variant. */
  variants: ShapeCount[];
  /** Feedback on the measured rule's notifications. */
  feedback: ShapeCount[];
  /** Deliveries of the measured rule by platform and status. */
  deliveries: ShapeCount[];
};

export async function describeLoadedData(db: Kysely<DB>): Promise<LoadedShape> {
  const counts = async (query: ReturnType<typeof sql<ShapeCount>>) =>
    (await query.execute(db)).rows;
  const tables = await sql<LoadedShape["tables"][number]>`
    select t.name, t.rows::float8 as rows,
      pg_relation_size(t.name::regclass) / 1048576.0::float8 as "heapMiB",
      pg_indexes_size(t.name::regclass) / 1048576.0::float8 as "indexMiB"
    from (values
      ('notifications', (select count(*) from notifications)),
      ('deliveries', (select count(*) from deliveries)),
      ('devices', (select count(*) from devices)),
      ('events', (select count(*) from events)),
      ('notification_stats_hourly', (select count(*) from notification_stats_hourly))
    ) as t(name, rows)`.execute(db);
  const measured = sql`n.rule_id = ${MEASURED_RULE}`;
  return {
    tables: tables.rows,
    rules: await counts(sql<ShapeCount>`
      select rule_id as key, coalesce(category, '') as detail, count(*)::int as count
      from notifications n group by 1, 2 order by 3 desc, 1`),
    outcomes: await counts(sql<ShapeCount>`
      select status as key, coalesce(case when status = 'cancelled' then 'cancelled_by:…' else reason end, '') as detail,
        count(*)::int as count
      from notifications n where ${measured} group by 1, 2 order by 1, 3 desc`),
    variants: await counts(sql<ShapeCount>`
      select coalesce(variant, 'none') as key, '' as detail, count(*)::int as count
      from notifications n where ${measured} group by 1 order by 1`),
    feedback: await counts(sql<ShapeCount>`
      select unnest(array['deferred', 'sent', 'received', 'opened', 'bounced', 'converted']) as key,
        '' as detail,
        unnest(array[count(deferred_by), count(sent_at), count(received_at), count(opened_at),
          count(bounced_at), count(converted_at)])::int as count
      from notifications n where ${measured}`),
    deliveries: await counts(sql<ShapeCount>`
      select d.platform as key, d.status as detail, count(*)::int as count
      from deliveries d join notifications n using (user_id, notification_id)
      where ${measured} group by 1, 2 order by 1, 2`),
  };
}

const share = (part: number, whole: number) =>
  whole > 0 ? `${formatNumber((100 * part) / whole, 1)}%` : "n/a";

function countTable(
  header: string[],
  counts: readonly ShapeCount[],
): string[][] {
  const total = counts.reduce((sum, c) => sum + c.count, 0);
  return [
    header,
    ...counts.map((c) => [
      c.key,
      c.detail,
      formatNumber(c.count),
      share(c.count, total),
    ]),
  ];
}

type Align = "left" | "right";
const COUNT_ALIGN: Align[] = ["left", "left", "right", "right"];

/** A titled table of the report. */
export type ShapeTable = { title: string; rows: string[][]; align?: Align[] };

/** The loaded data as tables: sizes, rules, and the measured rule's outcomes. */
export function shapeTables(shape: LoadedShape): ShapeTable[] {
  const sentCount = shape.feedback.find((f) => f.key === "sent")?.count ?? 0;
  return [
    {
      title: "Tables after loading:",
      rows: [
        ["table", "rows", "heap, MiB", "indexes, MiB"],
        ...shape.tables.map((t) => [
          t.name,
          formatNumber(t.rows),
          formatNumber(t.heapMiB),
          formatNumber(t.indexMiB),
        ]),
      ],
    },
    {
      title: "Notifications by rule:",
      rows: countTable(
        ["rule", "category", "notifications", "share"],
        shape.rules,
      ),
      align: COUNT_ALIGN,
    },
    {
      title:
        "The measured rule's notifications (all 30 days) by status and reason:",
      rows: countTable(
        ["status", "reason", "notifications", "share"],
        shape.outcomes,
      ),
      align: COUNT_ALIGN,
    },
    {
      title:
        "The measured rule's notifications by variant, and what happened to them:",
      rows: [
        ["", "notifications", "share"],
        ...shape.variants.map((v) => [
          `variant ${v.key}`,
          formatNumber(v.count),
          share(
            v.count,
            shape.variants.reduce((s, x) => s + x.count, 0),
          ),
        ]),
        ...shape.feedback.map((f) => [
          f.key,
          formatNumber(f.count),
          f.key === "deferred" || f.key === "sent"
            ? ""
            : `${share(f.count, sentCount)} of sent`,
        ]),
      ],
    },
    {
      title: "The measured rule's deliveries by platform and status:",
      rows: countTable(
        ["platform", "status", "deliveries", "share"],
        shape.deliveries,
      ),
      align: COUNT_ALIGN,
    },
  ];
}
