import { readFileSync } from "node:fs";

export type StartCommand = {
  /** Node's own flags. */
  nodeFlags: string[];
  /** The compiled entry point, relative to the project's root. */
  entry: string;
};

/**
 * What the Docker image runs, read from the Dockerfile's CMD so that the benchmarks
 * and the tests start Nudge exactly as production does: `node <flags> <entry>.js`,
 * compiled by `npm run build`. `npm start` runs the sources with the same flags.
 */
export function imageCommand(): StartCommand {
  const dockerfile = readFileSync(
    new URL("../Dockerfile", import.meta.url),
    "utf8",
  );
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
  const [node, ...args] = JSON.parse(cmd ?? "[]") as string[];
  const entry = args.pop();
  if (node !== "node" || entry?.endsWith(".js") !== true)
    throw new Error(
      `the Dockerfile's CMD is not ["node", <flags>, "<entry>.js"]: ${String(cmd)}`,
    );
  return { nodeFlags: args, entry };
}

/** What the Docker image runs, as a command line, for reports. */
export function imageCommandLine(): string {
  const { nodeFlags, entry } = imageCommand();
  return ["node", ...nodeFlags, entry].join(" ");
}
