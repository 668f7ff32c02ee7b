import { Router } from "express";
import type { Deps } from "../deps.ts";
import { AppError, ErrorCode } from "../errors.ts";
import type { MatchRecord } from "../planning/match-control.repository.ts";
import {
  cancelMatch,
  describeMatch,
} from "../planning/match-control.service.ts";

/**
 * Admin API for rule matches: a triggered rule's progress, and stopping it while it is
 * still being planned or its pushes wait.
 */
export function matchesRoutes(deps: Deps): Router {
  const router = Router();

  router.get("/v1/matches/:matchId", async (req, res) => {
    const match = await describeMatch(deps.db, req.params.matchId);
    if (match === undefined) throw matchNotFound(req.params.matchId);
    res.json({ ...matchView(match), notifications: match.notifications });
  });

  router.post("/v1/matches/:matchId/cancel", async (req, res) => {
    const result = await cancelMatch(deps.db, req.params.matchId, deps.clock());
    if (result === undefined) throw matchNotFound(req.params.matchId);
    res.json({
      ...matchView(result.match),
      stopped: result.stopped,
      cancelled: result.cancelled,
    });
  });

  return router;
}

/** A match as the admin API answers it, with where to follow and to cancel it. */
export function matchView(match: MatchRecord) {
  const self = `/v1/matches/${encodeURIComponent(match.matchId)}`;
  return {
    matchId: match.matchId,
    ruleId: match.ruleId,
    ruleVersion: match.ruleVersion,
    messageId: match.messageId,
    userId: match.userId,
    itemKey: match.itemKey,
    status: match.status,
    planned: match.planned,
    triggeredAt: match.triggeredAt,
    updatedAt: match.updatedAt,
    links: { self, cancel: `${self}/cancel` },
  };
}

function matchNotFound(id: string): AppError {
  return new AppError(
    ErrorCode.matchNotFound,
    404,
    `There is no rule match "${id}".`,
  );
}
