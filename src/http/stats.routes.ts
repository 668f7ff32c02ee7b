import { Router } from "express";
import { z } from "zod";
import type { Deps } from "../deps.ts";
import { isSensibleTime } from "../ingest/timestamp.ts";
import { GroupBy } from "../stats/stats.repository.ts";
import { ruleStats } from "../stats/stats.service.ts";
import { parseQuery } from "./validation.ts";

const WEEK_MS = 7 * 86_400_000;

const instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], {
    message:
      "must be an ISO date or instant, e.g. 2026-07-01 or 2026-07-01T12:00:00Z",
  })
  .transform((text) => new Date(text))
  .refine(isSensibleTime, { message: "must be a time in 1970–2999" });

const GROUPINGS = Object.values(GroupBy);
/** Each grouping alone, or each rule's apart (`rule`, `rule,day`…): one query for all rules. */
const GROUP_BY = [
  ...GROUPINGS,
  "rule",
  ...GROUPINGS.map((g) => `rule,${g}` as const),
] as const;

/** The query of GET /v1/stats. */
export const statsQuery = z
  .object({
    ruleId: z.string().min(1).optional(),
    from: instant.optional(),
    to: instant.optional(),
    groupBy: z.enum(GROUP_BY).optional(),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, {
    message: "from must be before to",
  });

/**
 * Admin API: the funnel of a rule (or all rules) by variant, platform, day, hour or
 * category, and of each rule apart.
 */
export function statsRoutes(deps: Deps): Router {
  const router = Router();
  router.get("/v1/stats", async (req, res) => {
    const q = parseQuery(statsQuery, req.query);
    const to = q.to ?? deps.clock();
    const from = q.from ?? new Date(to.getTime() - WEEK_MS);
    const [first, second] = (q.groupBy ?? "").split(",");
    const byRule = first === "rule";
    const groupBy = GROUPINGS.find((g) => g === (byRule ? second : first));
    res.json(
      await ruleStats(deps.db, deps.rules.current(), {
        ruleId: q.ruleId,
        from,
        to,
        groupBy,
        byRule,
      }),
    );
  });
  return router;
}
