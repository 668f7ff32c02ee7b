import type { Migration } from "kysely/migration";
import * as initial from "./0001-initial.ts";

/** Forward-only migrations, applied in key order. Never edit one that has shipped. */
export const migrations: Record<string, Migration> = {
  "0001-initial": initial,
};
