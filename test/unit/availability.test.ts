import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "../../src/db/availability.ts";
import { backoffAfterFailure, logsFailure } from "../../src/worker-loop.ts";

const withCode = (code: string, message = "failed") =>
  Object.assign(new Error(message), { code });

describe("isDatabaseUnavailable", () => {
  it("when the server shut down, restarted or refused the connection, then it is unavailable", () => {
    for (const code of ["57P01", "57P03", "08006", "53300", "ECONNREFUSED"])
      expect(isDatabaseUnavailable(withCode(code))).toBe(true);
    expect(
      isDatabaseUnavailable(new Error("Connection terminated unexpectedly")),
    ).toBe(true);
    expect(
      isDatabaseUnavailable(
        new AggregateError([withCode("ECONNREFUSED")], "connect failed"),
      ),
    ).toBe(true);
    expect(
      isDatabaseUnavailable(
        new Error("query failed", { cause: withCode("57P01") }),
      ),
    ).toBe(true);
  });

  it("when the statement itself was wrong, then it is not", () => {
    for (const code of ["23505", "42P01", "40P01", "54000"])
      expect(isDatabaseUnavailable(withCode(code))).toBe(false);
    expect(isDatabaseUnavailable(new Error("boom"))).toBe(false);
    expect(isDatabaseUnavailable("Connection terminated")).toBe(false);
  });
});

describe("the worker loop's failure policy", () => {
  it("when the database is away, then the wait is capped at a few seconds; other errors wait longer", () => {
    const away = withCode("57P01");
    for (let failures = 1; failures < 30; failures++)
      expect(backoffAfterFailure(failures, away)).toBeLessThanOrEqual(4_000);
    expect(backoffAfterFailure(20, new Error("bug"))).toBeGreaterThan(4_000);
  });

  it("when failures repeat, then only the 1st, 2nd, 4th, 8th… are logged", () => {
    const logged = Array.from({ length: 100 }, (_, i) => i + 1).filter(
      logsFailure,
    );
    expect(logged).toEqual([1, 2, 4, 8, 16, 32, 64]);
  });
});
