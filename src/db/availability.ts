import { sqlState } from "./transaction.ts";

/**
 * SQLSTATE classes and codes that say the server is away, not that the statement was
 * wrong: connection exceptions (08), an operator intervention such as a shutdown or a
 * terminated backend (57P01–57P03), and a server out of connections or memory (53).
 */
const UNAVAILABLE_CLASSES = ["08", "53"];
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03"]);

/** Socket errors of a server that is down, restarting or unreachable. */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * What node-postgres says, without a code, when a connection dies under a query or
 * cannot be had in time; and what PGlite says once it has been closed.
 */
const UNAVAILABLE_MESSAGES = [
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error",
  "Client was closed and is not queryable",
  "PGlite is closed",
];

/**
 * Whether an error means the database cannot be reached now (it is restarting, failing
 * over, or the connection was cut), so the same work will succeed once it is back:
 * a request should be answered 503 with Retry-After, a worker should wait and retry.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const state = sqlState(error);
  if (state !== undefined) {
    if (UNAVAILABLE_STATES.has(state)) return true;
    if (UNAVAILABLE_CLASSES.some((prefix) => state.startsWith(prefix)))
      return true;
    if (SOCKET_CODES.has(state)) return true;
  }
  if (error instanceof AggregateError)
    return error.errors.some(isDatabaseUnavailable);
  if (!(error instanceof Error)) return false;
  if (UNAVAILABLE_MESSAGES.some((text) => error.message.includes(text)))
    return true;
  return error.cause !== undefined && isDatabaseUnavailable(error.cause);
}
