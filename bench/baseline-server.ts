/**
 * The baseline Nudge's ingest is measured against: the least a Segment intake can do.
 * A bare node:http server that parses the JSON and stores the raw calls with ONE
 * multi-row INSERT per request, through a pg pool of the same size as Nudge's. No
 * validation, no profiles, no rules. Started by the benchmarks as a child process,
 * with DATABASE_URL, HOST and PORT in its environment.
 */
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import pg from "pg";

const MAX_BODY_BYTES = 1024 * 1024;
const POOL_SIZE = 10;

type Call = { messageId?: unknown };

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new Error("body too large"));
      else chunks.push(chunk);
    });
    req.on("end", () => {
      resolve(Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
}

/** `{batch:[…]}` (tracking API), a bare array (Webhooks batching) or one call. */
function callsOf(body: unknown): Call[] {
  if (Array.isArray(body)) return body;
  if (typeof body !== "object" || body === null) return [];
  const { batch } = body as { batch?: unknown };
  return Array.isArray(batch) ? batch : [body];
}

/** One statement for the whole request: `insert … values ($1,$2),($3,$4),…`. */
async function insertCalls(
  pool: pg.Pool,
  calls: readonly Call[],
): Promise<void> {
  const params: string[] = [];
  const rows: string[] = [];
  for (const call of calls) {
    params.push(String(call.messageId), JSON.stringify(call));
    rows.push(`($${String(params.length - 1)}, $${String(params.length)})`);
  }
  await pool.query(
    `insert into raw_events (message_id, payload) values ${rows.join(", ")} on conflict (message_id) do nothing`,
    params,
  );
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function handle(
  pool: pg.Pool,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method === "GET" && req.url === "/health") {
    answer(res, 200, { status: "ok" });
    return;
  }
  if (req.method !== "POST") {
    answer(res, 404, { error: "not found" });
    return;
  }
  let calls: Call[];
  try {
    calls = callsOf(JSON.parse((await readBody(req)).toString("utf8")));
  } catch {
    answer(res, 400, { error: "invalid body" });
    return;
  }
  if (calls.length > 0) await insertCalls(pool, calls);
  answer(res, 200, { accepted: calls.length });
}

async function main(): Promise<void> {
  const pool = new pg.Pool({
    connectionString: process.env.DATABASE_URL,
    max: POOL_SIZE,
  });
  // Like the events table, keyed by messageId so that a retried call is stored once.
  await pool.query(
    "create table if not exists raw_events (message_id text primary key, payload jsonb not null, received_at timestamptz not null default now())",
  );
  const server = createServer((req, res) => {
    handle(pool, req, res).catch((error: unknown) => {
      console.error("baseline request failed", error);
      if (!res.headersSent) answer(res, 500, { error: "internal" });
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(
    Number(process.env.PORT ?? 3001),
    process.env.HOST ?? "127.0.0.1",
  );
  process.once("SIGTERM", () => {
    server.close();
    server.closeIdleConnections();
    void pool.end();
  });
}

await main();
