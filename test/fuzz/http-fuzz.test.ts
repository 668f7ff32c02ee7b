import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, useTestApp, type TestApp } from "../support/test-app.ts";
import { uniqueId } from "../support/test-database.ts";
import { adminRequest } from "./admin-arbitraries.ts";
import { json, scrambled } from "./json-arbitraries.ts";
import { call } from "./segment-arbitraries.ts";

/*
 * Bad input never produces a 5xx, and never loses a good event (DESIGN.md §3). Random
 * and mutated calls, wrong types, huge and deep values, NUL and lone surrogates, bytes
 * that are not UTF-8 and `__proto__` keys go to every intake route and the admin API.
 * The seed is fixed, so a run is repeatable; FUZZ_RUNS=5000 runs longer, and
 * FUZZ_SEED=n tries other inputs. A failure prints the seed and the shrunk input.
 */

const WRITE_KEY = "fuzz-write-key";

const ctx = useTestApp({ env: { SEGMENT_WRITE_KEYS: WRITE_KEY } });

const SEED = Number(process.env.FUZZ_SEED ?? 20261205);
const RUNS = Number(process.env.FUZZ_RUNS ?? 0) || undefined;

/** A property's runs (`usual` by default, FUZZ_RUNS when set) and its test's timeout. */
function settings(usual: number) {
  const numRuns = RUNS ?? usual;
  return {
    runs: { seed: SEED, numRuns },
    timeout: Math.max(120_000, numRuns * 400),
  };
}

type Sent = { status: number; text: string };

async function send(
  app: TestApp,
  method: string,
  path: string,
  body: string | Uint8Array | undefined,
  headers: Record<string, string> = {},
): Promise<Sent> {
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers,
    body,
  });
  return { status: response.status, text: await response.text() };
}

/** Fails with what was sent and answered when the answer is a 5xx. */
function expectNoServerError(sent: Sent, what: string): void {
  if (sent.status >= 500)
    throw new Error(`${what} answered ${String(sent.status)}: ${sent.text}`);
}

const writeKeyAuth = {
  authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString("base64")}`,
};

async function isStored(messageId: string): Promise<boolean> {
  const row = await ctx.database.db
    .selectFrom("events")
    .select("message_id")
    .where("message_id", "=", messageId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Bytes that break a UTF-8 decoder or a JSON parser, to put into a body. */
const NASTY_BYTES = [
  [0xff],
  [0xc3, 0x28],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0x00],
  [0xef, 0xbb, 0xbf],
  ...["\\u0000", "\\udc00", "1e999", "]", "{", '"', "\\"].map((s) => [
    ...Buffer.from(s),
  ]),
];

const byteEdit = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom("insert", "replace", "truncate"),
  bytes: fc.constantFrom(...NASTY_BYTES),
});

function editBytes(
  body: Buffer,
  edits: readonly { at: number; kind: string; bytes: number[] }[],
): Buffer {
  let bytes = body;
  for (const { at, kind, bytes: inserted } of edits) {
    const i = at % (bytes.length + 1);
    const end = kind === "replace" ? i + inserted.length : i;
    bytes =
      kind === "truncate"
        ? bytes.subarray(0, i)
        : Buffer.concat([
            bytes.subarray(0, i),
            Buffer.from(inserted),
            bytes.subarray(end),
          ]);
  }
  return bytes;
}

/** Mostly none, sometimes one of `arbitrary`. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>, none: T) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(none) },
    { weight: 1, arbitrary },
  );

const BATCH_PATHS = ["/v1/batch", "/v1/b"];

/** A request to an intake route, its body shaped as the route expects or not. */
const intakeRequest = fc.record({
  path: fc.constantFrom(
    "/v1/segment",
    ...BATCH_PATHS,
    "/v1/identify",
    "/v1/track",
    "/v1/t",
    "/v1/alias",
    "/v1/page",
  ),
  shaped: fc.boolean(),
  calls: fc.array(call, { maxLength: 6 }),
  writeKey: fc.oneof(fc.constant(WRITE_KEY), json),
  context: json,
  other: json,
  edits: rarely(fc.array(byteEdit, { minLength: 1, maxLength: 3 }), []),
  auth: fc.boolean(),
  encoding: rarely(
    fc.constantFrom("gzip", "deflate", "br", "identity", "compress"),
    null,
  ),
  type: fc.constantFrom("application/json", "text/plain", "none"),
});

function intakeBody(
  r: typeof intakeRequest extends fc.Arbitrary<infer R> ? R : never,
): string {
  const { path, calls, writeKey, context } = r;
  const body = !r.shaped
    ? r.other
    : path === "/v1/segment"
      ? calls
      : BATCH_PATHS.includes(path)
        ? { batch: calls, writeKey, context }
        : (calls[0] ?? r.other);
  return JSON.stringify(body);
}

describe("fuzzing the HTTP API: no input makes a 5xx", () => {
  // First: the admin API's fuzzing, last, may replace the example rules it relies on.
  it("when a webhook batch holds 4,000 calls, some invalid or with values too long to index, then the valid ones are stored", async () => {
    const prefix = uniqueId("giant");
    const tooLong = (seed: number) => scrambled(3_000, seed, false);
    const calls = Array.from({ length: 4_000 }, (_, i) => {
      const valid = {
        type: "track",
        event: "Product Added to Wishlist",
        messageId: `${prefix}-${String(i)}`,
        userId: `${prefix}-${String(i % 400)}`,
        properties: { product_id: `p-${String(i % 50)}` },
      };
      switch (i % 200) {
        case 7: // a saved item's key too long: rejected
          return { ...valid, properties: { product_id: tooLong(i) } };
        case 13: // a token too long: stored without the device
          return {
            ...valid,
            context: { device: { type: "ios", token: tooLong(i) } },
          };
        case 21:
          return { ...valid, userId: ["not", "an", "id"] };
        case 33:
          return "not a call";
        default:
          return valid;
      }
    });
    // The Actions webhook's largest batch; the tracking API takes 500 KB at most.
    const sent = await send(
      ctx.app,
      "POST",
      "/v1/segment",
      JSON.stringify(calls),
    );
    expect(sent.status, sent.text).toBe(200);
    const report = JSON.parse(sent.text);
    expect(report.accepted).toBe(4_000 - 3 * 20);
    expect(
      report.rejected.map((r: { index: number }) => r.index % 200),
    ).toEqual(Array.from({ length: 20 }, () => [7, 21, 33]).flat());
    const { count } = await ctx.database.db
      .selectFrom("events")
      .select((eb) => eb.fn.countAll<string>().as("count"))
      .where("message_id", "like", `${prefix}-%`)
      .executeTakeFirstOrThrow();
    expect(Number(count)).toBe(4_000 - 3 * 20);
  });

  const mixed = settings(800);
  it(
    "when a batch mixes any calls with a valid one, then the answer is 2xx or 4xx and the valid call is stored",
    { timeout: mixed.timeout },
    async () => {
      const batch = fc.record({
        calls: fc.array(call, { maxLength: 8 }),
        at: fc.nat(),
        api: fc.constantFrom("webhook", "tracking"),
      });
      await fc.assert(
        fc.asyncProperty(batch, async ({ calls, at, api }) => {
          const good = {
            type: "track",
            event: "Fuzz Marker",
            messageId: uniqueId("good"),
            userId: uniqueId("fz-good"),
          };
          const all = [...calls];
          all.splice(at % (calls.length + 1), 0, good);
          const sent =
            api === "webhook"
              ? await send(ctx.app, "POST", "/v1/segment", JSON.stringify(all))
              : await send(
                  ctx.app,
                  "POST",
                  "/v1/batch",
                  JSON.stringify({ batch: all, writeKey: WRITE_KEY }),
                );
          expectNoServerError(sent, api);
          // A body over MAX_BODY_BYTES is refused whole, as it should be.
          if (sent.status === 413) return;
          expect(sent.status, sent.text).toBe(200);
          expect(await isStored(good.messageId)).toBe(true);
        }),
        mixed.runs,
      );
      // What the calls triggered plans without failing.
      await ctx.app.deps.planner.drain();
    },
  );

  const raw = settings(600);
  it(
    "when any body, JSON or not, UTF-8 or not, is posted to an intake route, then the answer is 2xx or 4xx",
    { timeout: raw.timeout },
    async () => {
      await fc.assert(
        fc.asyncProperty(intakeRequest, async (r) => {
          const body = editBytes(Buffer.from(intakeBody(r)), r.edits);
          const headers: Record<string, string> = {
            ...(r.auth ? writeKeyAuth : {}),
            ...(r.type === "none" ? {} : { "content-type": r.type }),
            ...(r.encoding === null ? {} : { "content-encoding": r.encoding }),
          };
          const sent = await send(ctx.app, "POST", r.path, body, headers);
          expectNoServerError(sent, `POST ${r.path}`);
        }),
        raw.runs,
      );
    },
  );

  const admin = settings(800);
  it(
    "when any admin request is made, with any path, query or body, then the answer is 2xx or 4xx",
    { timeout: admin.timeout },
    async () => {
      const request = fc.tuple(
        adminRequest,
        rarely(fc.array(byteEdit, { minLength: 1, maxLength: 2 }), []),
      );
      await fc.assert(
        fc.asyncProperty(request, async ([r, edits]) => {
          const body =
            r.body === undefined
              ? undefined
              : editBytes(Buffer.from(r.body), edits);
          const sent = await send(ctx.app, r.method, r.path, body, {
            authorization: `Bearer ${ADMIN_TOKEN}`,
            "content-type": "application/json",
          });
          expectNoServerError(sent, `${r.method} ${r.path}`);
        }),
        admin.runs,
      );
    },
  );
});
