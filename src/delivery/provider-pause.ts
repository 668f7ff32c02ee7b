import { RetryCause, type SendOutcome } from "../providers/provider.ts";
import { retryDelay } from "./backoff.ts";

/** When a service counts as down, and how long it is left alone then. */
export type PausePolicy = {
  /** The first pause; each one after it, while the service stays down, doubles. */
  baseMs: number;
  /** No pause is longer, unless the provider's Retry-After asks for more. */
  maxMs: number;
  /** The longest Retry-After honoured. */
  retryAfterMaxMs: number;
  /** Server errors (429, 5xx) in a row, with no other answer between, that make an outage. */
  streak: number;
};

/**
 * A second at first, doubling up to 30 s: the provider is tried again within seconds
 * of its return, and a long outage costs one probe per 30 s. Ten server errors in a
 * row: more than a push's own attempts (5 by default), so one push's 500s cannot
 * pause everybody's.
 */
export const DEFAULT_PAUSE_POLICY: Omit<PausePolicy, "retryAfterMaxMs"> = {
  baseMs: 1_000,
  maxMs: 30_000,
  streak: 10,
};

/** A service that is down, as a push meets it. */
export type Outage = {
  /** When the service is tried again: the end of its pause. */
  until: Date;
  /** Why: the failure that paused it. */
  reason: string;
};

/** Whether a push may go to its service now. */
export type Admission =
  | { kind: "send" }
  /** Another push is finding out whether the service is back: wait for its answer. */
  | { kind: "wait"; answered: Promise<void> }
  | { kind: "paused"; outage: Outage };

export type PauseChange =
  | {
      kind: "paused";
      service: string;
      cause: RetryCause;
      reason: string;
      pauseMs: number;
      /** Pauses in a row, this one included. */
      pauses: number;
    }
  | { kind: "resumed"; service: string; downMs: number };

/** The pauses of one provider's services; see {@link createProviderPauses}. */
export type ProviderPauses = {
  /** Before a send. */
  admit(service: string, now: Date): Admission;
  /** After a send: its outcome, and the outage it belongs to, if any. */
  observe(service: string, outcome: SendOutcome, now: Date): Outage | undefined;
};

type Down = {
  since: number;
  until: number;
  pauses: number;
  reason: string;
  /** Set once the pause is over and one push has gone to see whether it is back. */
  probe?: PromiseWithResolvers<void>;
};
type ServiceState = { serverErrors: number; down?: Down };
type RetryOutcome = {
  reason: string;
  cause?: RetryCause;
  retryAfterMs?: number;
};

type PauseOptions = {
  policy: PausePolicy;
  onChange: (change: PauseChange) => void;
  random?: () => number;
};

/**
 * The provider-wide pause. A push's attempts are for what is wrong with that push;
 * when the provider itself is down, every push would spend its attempts on the outage
 * and end `retries_exhausted`, lost to an outage that says nothing about it. So:
 *
 * - A service (the provider, or one Web Push service) is down after one connection
 *   failure (timeout, reset, refused: the connection is shared, so nobody's push gets
 *   through), one refusal of the credentials, or `streak` server errors (429, 5xx) in
 *   a row with no other answer between.
 * - Down, it is paused for a capped, jittered time that doubles while it stays down,
 *   and at least its Retry-After. Its pushes are not sent meanwhile: delivery puts them
 *   back in the queue until the pause ends, without counting an attempt. Nothing runs
 *   in between: the state is read when a push comes.
 * - When the pause is over, one push goes to see whether the service is back, and the
 *   others wait for its answer (at most the provider's timeout). Any answer that is not
 *   a retry (sent, dead token, bad payload) ends the outage; another failure pauses the
 *   service again.
 * - Failures of sends that were in flight when the service went down belong to the
 *   outage: they cost no attempt either.
 *
 * `onChange` hears every pause and every return, for the logs.
 */
export function createProviderPauses(options: PauseOptions): ProviderPauses {
  const { policy, onChange, random = Math.random } = options;
  const pausing = { policy, onChange, random };
  const states = new Map<string, ServiceState>();

  return {
    admit(service, now) {
      const down = states.get(service)?.down;
      if (down === undefined) return { kind: "send" };
      if (now.getTime() < down.until)
        return { kind: "paused", outage: outageOf(down) };
      if (down.probe !== undefined)
        return { kind: "wait", answered: down.probe.promise };
      down.probe = Promise.withResolvers();
      return { kind: "send" };
    },
    observe(service, outcome, now) {
      const state = states.get(service) ?? { serverErrors: 0 };
      const { down } = state;
      if (outcome.kind !== "retry") {
        states.delete(service);
        if (down !== undefined) {
          down.probe?.resolve();
          onChange({
            kind: "resumed",
            service,
            downMs: now.getTime() - down.since,
          });
        }
        return undefined;
      }
      states.set(service, state);
      if (down !== undefined) {
        // In flight when the service went down, before anyone went to see.
        if (down.probe === undefined) return outageOf(down);
        // The push that went to see failed: down again, for longer.
        return pauseService(pausing, service, state, outcome, now.getTime());
      }
      state.serverErrors += 1;
      const cause = outcome.cause ?? RetryCause.server;
      if (cause === RetryCause.server && state.serverErrors < policy.streak)
        return undefined;
      return pauseService(pausing, service, state, outcome, now.getTime());
    },
  };
}

/**
 * Pauses a service that is down, or down again: longer each time in a row, and at
 * least its Retry-After (up to the longest honoured). The pushes that waited for the
 * probe's answer are woken, to meet the new pause.
 */
function pauseService(
  { policy, onChange, random }: Required<PauseOptions>,
  service: string,
  state: ServiceState,
  outcome: RetryOutcome,
  now: number,
): Outage {
  const previous = state.down;
  const pauses = (previous?.pauses ?? 0) + 1;
  const pauseMs = Math.max(
    retryDelay(policy, pauses, undefined, random),
    Math.min(outcome.retryAfterMs ?? 0, policy.retryAfterMaxMs),
  );
  const down = {
    since: previous?.since ?? now,
    until: now + pauseMs,
    pauses,
    reason: outcome.reason,
  };
  state.down = down;
  previous?.probe?.resolve();
  const cause = outcome.cause ?? RetryCause.server;
  onChange({
    kind: "paused",
    service,
    cause,
    reason: down.reason,
    pauseMs,
    pauses,
  });
  return outageOf(down);
}

function outageOf(down: Down): Outage {
  return { until: new Date(down.until), reason: down.reason };
}
