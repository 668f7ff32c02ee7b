import { execFileSync } from "node:child_process";
import { cpSync, rmSync } from "node:fs";
import { createRequire } from "node:module";

/*
 * Compiles Nudge into plain JavaScript (`dist/`, or the directory given), which is what
 * the Docker image runs: a process that strips types from TypeScript as it loads it
 * keeps the stripper in memory, about 30 MiB for its whole life. `npm start` runs the
 * sources instead, so that it needs no compiler and starts at once.
 */
const outDir = process.argv[2] ?? "dist";
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

rmSync(outDir, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [tsc, "--project", "tsconfig.build.json", "--outDir", outDir],
  { stdio: "inherit" },
);
// The dashboard's static files are served from beside the module that serves them.
cpSync("src/http/dashboard", `${outDir}/src/http/dashboard`, {
  recursive: true,
});
