import { readFileSync } from "node:fs";

export type StartCommand = {
  /** Node's own flags, if the start script gives any. */
  nodeFlags: string[];
  /** The compiled entry point, relative to the project's root. */
  entry: string;
};

/**
 * What `npm start` runs once its build is done, read from package.json so that the
 * benchmarks and the tests start Nudge exactly as users do: `node <flags> <entry>`.
 */
export function startCommand(): StartCommand {
  const manifest = JSON.parse(
    readFileSync(new URL("../package.json", import.meta.url), "utf8"),
  ) as { scripts: { start: string } };
  const [node, ...args] = manifest.scripts.start.split(/\s+/);
  const entry = args.pop();
  if (node !== "node" || entry?.endsWith(".js") !== true)
    throw new Error(
      `package.json's start script is not "node <flags> <entry>.js": ${manifest.scripts.start}`,
    );
  return { nodeFlags: args, entry };
}

/** What `npm start` runs once its build is done, as a command line, for reports. */
export function startCommandLine(): string {
  const { nodeFlags, entry } = startCommand();
  return ["node", ...nodeFlags, entry].join(" ");
}
