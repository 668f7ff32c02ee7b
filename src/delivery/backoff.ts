/** How long to wait before the next attempt of a send that may succeed later. */
export type BackoffPolicy = {
  /** The first retry's nominal delay; each later one doubles it. */
  baseMs: number;
  /** No wait is longer than this, `Retry-After` included. */
  maxMs: number;
};

/**
 * Exponential backoff with jitter (half fixed, half random), never shorter than what
 * the provider asked for in `Retry-After`. `attempt` is the attempt that just failed,
 * counting from 1. Jitter spreads the retries of a large fan-out that failed together
 * (a provider outage), so they do not all come back at the same instant.
 */
export function retryDelay(
  policy: BackoffPolicy,
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(
    policy.maxMs,
    policy.baseMs * 2 ** Math.max(0, attempt - 1),
  );
  const jittered = exponential / 2 + (random() * exponential) / 2;
  return Math.round(
    Math.min(policy.maxMs, Math.max(jittered, retryAfterMs ?? 0)),
  );
}
