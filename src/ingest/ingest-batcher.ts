import { isDatabaseUnavailable } from "../db/availability.ts";
import {
  ingestTogether,
  type IngestDeps,
  type IngestReport,
  type IngestRequest,
} from "./ingest.service.ts";

export type IngestBatcher = {
  /** Ingests one request's calls, alone or together with concurrent requests. */
  ingest(request: IngestRequest): Promise<IngestReport>;
};

export type IngestBatcherOptions = {
  /** Transactions running at once; further requests wait and then go in together. */
  maxInFlight: number;
  /** How long a request waits for company before starting a transaction beside another. */
  lingerMs: number;
  /** Calls per shared transaction, counted by whole requests (a larger one goes alone). */
  maxCalls: number;
};

type Waiting = {
  request: IngestRequest;
  resolve(report: IngestReport): void;
  reject(error: unknown): void;
};

/**
 * Group commit for ingest. With no transaction running, a request starts one at once.
 * Beside a running one, it waits up to `lingerMs` for company; with `maxInFlight`
 * running, it waits for one to end. Requests waiting together share a transaction. So
 * a lone request is never delayed, and under load the round trips and commits per call
 * fall as the load rises, which is what lets single-event webhooks keep up. Each
 * request still gets its own report, and a shared transaction that fails is retried
 * one request at a time, so no request fails for another's sake (unless the database
 * is away, which no request can help: then all are refused at once).
 */
export function createIngestBatcher(
  deps: IngestDeps,
  options: IngestBatcherOptions,
): IngestBatcher {
  const waiting: Waiting[] = [];
  let inFlight = 0;
  let lingering: NodeJS.Timeout | undefined;

  const startGroup = () => {
    inFlight++;
    void ingestGroup(deps, takeGroup(waiting, options.maxCalls)).finally(() => {
      inFlight--;
      pump();
    });
  };

  const pump = () => {
    while (inFlight < options.maxInFlight && waiting.length > 0) {
      if (inFlight > 0 && countCalls(waiting) < options.maxCalls) {
        lingering ??= setTimeout(() => {
          lingering = undefined;
          if (inFlight < options.maxInFlight && waiting.length > 0)
            startGroup();
          pump();
        }, options.lingerMs).unref();
        return;
      }
      startGroup();
    }
  };

  return {
    ingest: (request) =>
      new Promise<IngestReport>((resolve, reject) => {
        waiting.push({ request, resolve, reject });
        pump();
      }),
  };
}

function countCalls(waiting: readonly Waiting[]): number {
  return waiting.reduce((sum, w) => sum + w.request.inputs.length, 0);
}

/**
 * Removes from `waiting` the requests that go in together: in order, up to `maxCalls`
 * calls, and at least one request however large.
 */
function takeGroup(waiting: Waiting[], maxCalls: number): Waiting[] {
  const group: Waiting[] = [];
  let calls = 0;
  for (const next of waiting) {
    const size = next.request.inputs.length;
    if (group.length > 0 && calls + size > maxCalls) break;
    group.push(next);
    calls += size;
  }
  waiting.splice(0, group.length);
  return group;
}

/** Ingests a group in one transaction; if that fails, each request again on its own. */
async function ingestGroup(deps: IngestDeps, group: Waiting[]): Promise<void> {
  try {
    const reports = await ingestTogether(
      deps,
      group.map((w) => w.request),
    );
    group.forEach((w, i) => {
      const report = reports[i];
      if (report === undefined)
        w.reject(new Error("no report for the request"));
      else w.resolve(report);
    });
  } catch (error) {
    // Alone, each request would meet the same absent database: answer all now.
    if (group.length === 1 || isDatabaseUnavailable(error)) {
      for (const w of group) w.reject(error);
      return;
    }
    for (const w of group) await ingestGroup(deps, [w]);
  }
}
