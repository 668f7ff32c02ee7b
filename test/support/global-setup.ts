import { randomBytes } from "node:crypto";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { openDatabase } from "../../src/db/database.ts";
import { migrateToLatest } from "../../src/db/migrator.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** On real Postgres: the migrated template every test database is cloned from. */
    templateDatabase: string | undefined;
  }
}

/**
 * With TEST_DATABASE_URL set, migrates one template database that each test file
 * clones (CREATE DATABASE … TEMPLATE is far faster than migrating again), and drops
 * the template and every clone at the end.
 */
export default async function setup(
  project: TestProject,
): Promise<() => Promise<void>> {
  const url = process.env.TEST_DATABASE_URL;
  if (url === undefined || url === "") {
    project.provide("templateDatabase", undefined);
    return async () => {};
  }
  const template = `nudge_test_${randomBytes(4).toString("hex")}`;
  await adminQuery(url, `create database ${template}`);
  const db = await openDatabase({ url: withDatabase(url, template) });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  project.provide("templateDatabase", template);
  return async () => {
    const clones = await adminQuery(
      url,
      `select datname from pg_database where datname like '${template}%' order by datname desc`,
    );
    for (const row of clones)
      await adminQuery(
        url,
        `drop database if exists ${String(row.datname)} with (force)`,
      );
  };
}

export async function adminQuery(
  url: string,
  text: string,
): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
