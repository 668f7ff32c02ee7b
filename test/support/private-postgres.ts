import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The directory of PostgreSQL's server programs (initdb, pg_ctl), if installed. */
const bindir = ((): string | undefined => {
  const found = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" });
  const dir = found.status === 0 ? found.stdout.trim() : undefined;
  return dir !== undefined && existsSync(join(dir, "pg_ctl")) ? dir : undefined;
})();

/**
 * Whether the fault tests that stop and start a database run: on the PostgreSQL pass
 * (TEST_DATABASE_URL set), where CI has the server programs and fails without them.
 */
export const runPrivatePostgresTests =
  Boolean(process.env.TEST_DATABASE_URL) &&
  (bindir !== undefined || Boolean(process.env.CI));

export type PrivatePostgres = {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  start(): void;
  /** Stops the server as a restart or failover does: `pg_ctl stop -m fast`. */
  stop(): void;
  /** Stops it for good and deletes its files. */
  destroy(): void;
};

/**
 * A PostgreSQL cluster of the test's own, in a temporary directory on an ephemeral
 * port of 127.0.0.1, which the test may stop and start at will: the shared server is
 * never restarted. As root, the programs run as the `postgres` user (initdb refuses
 * root). Durability is off: nothing here outlives the test.
 */
export async function createPrivatePostgres(): Promise<PrivatePostgres> {
  if (bindir === undefined)
    throw new Error(
      "PostgreSQL's server programs are not installed (pg_config --bindir)",
    );
  const dir = mkdtempSync(join(tmpdir(), "nudge-pg-"));
  const data = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    chmodSync(dir, 0o755);
    chownSync(dir, uid, gid);
  }
  const run = (program: string, args: string[]) => {
    const command = join(bindir, program);
    const [file, argv] = asRoot
      ? ["runuser", ["-u", "postgres", "--", command, ...args]]
      : [command, args];
    execFileSync(file, argv, { stdio: ["ignore", "ignore", "pipe"] });
  };
  run("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync"]);
  const port = await freePort();
  const options = [
    `-p ${String(port)}`,
    "-c listen_addresses=127.0.0.1",
    "-c unix_socket_directories=''",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
  ].join(" ");
  const start = () => {
    run("pg_ctl", ["start", "-D", data, "-w", "-s", "-o", options]);
  };
  const stop = () => {
    run("pg_ctl", ["stop", "-D", data, "-m", "fast", "-w", "-s"]);
  };
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${String(port)}/postgres`,
    port,
    start,
    stop,
    destroy() {
      try {
        stop();
      } catch {
        // Already stopped.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A port nothing listens on now (the kernel's choice of an ephemeral one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === "object" && address !== null)
          resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}
