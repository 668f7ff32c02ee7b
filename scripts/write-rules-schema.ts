import { writeFile } from "node:fs/promises";
import { rulesJsonSchema } from "../src/rules/rules-file.schema.ts";

/** Regenerates rules.schema.json from the rules file's zod schema (the source of truth). */
await writeFile(
  "rules.schema.json",
  `${JSON.stringify(rulesJsonSchema(), null, 2)}\n`,
);
