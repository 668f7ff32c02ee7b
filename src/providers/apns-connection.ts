import diagnostics from "node:diagnostics_channel";
import type {
  ClientHttp2Stream,
  Http2Session,
  IncomingHttpHeaders,
  OutgoingHttpHeaders,
} from "node:http2";
import type apn from "@parse/node-apn";
import { leaveSession, pingEvery } from "./http2-session.ts";

/** What @parse/node-apn does not tell about one of our requests. */
export type RequestWatch = {
  /** Starts watching the request that carries this apns-id. */
  expect(apnsId: string): void;
  /** Its answer's `retry-after` header. */
  retryAfterOf(apnsId: string): string | undefined;
  /** The HTTP/2 session it went out on. */
  sessionOf(apnsId: string): Http2Session | undefined;
  forget(apnsId: string): void;
  stop(): void;
};

/**
 * Watches our requests on Node's HTTP/2 diagnostics channels, told apart by the apns-id
 * each one carries, for two things the library loses:
 *
 * - the `retry-after` of the answer: it reads `headers["Retry-After"]`, a name HTTP/2
 *   never has (header names are lower-case on the wire and in Node), and deletes
 *   `retryAfter` from every failure it returns;
 * - the session the request went out on: when a request times out, the library cancels
 *   the stream but keeps the session, so that {@link abandonSession} can leave it.
 *
 * On a Node without these channels, retryAfterMs is absent and a timed-out session is
 * left to the library.
 */
export function watchRequests(): RequestWatch {
  const watched = new Map<
    string,
    { session?: Http2Session; retryAfter?: string }
  >();
  const onCreated = (message: unknown): void => {
    const { stream, headers } = message as {
      stream: ClientHttp2Stream;
      headers: OutgoingHttpHeaders;
    };
    const request = watchedBy(headers["apns-id"]);
    if (request !== undefined) request.session = stream.session;
  };
  const onResponse = (message: unknown): void => {
    const { stream, headers } = message as {
      stream: ClientHttp2Stream;
      headers: IncomingHttpHeaders;
    };
    const value = headers["retry-after"];
    const request = watchedBy(stream.sentHeaders["apns-id"]);
    if (request !== undefined && value !== undefined)
      request.retryAfter = value;
  };
  const watchedBy = (apnsId: unknown) =>
    typeof apnsId === "string" ? watched.get(apnsId) : undefined;
  diagnostics.subscribe(CREATED_CHANNEL, onCreated);
  diagnostics.subscribe(RESPONSE_CHANNEL, onResponse);
  return {
    expect(apnsId) {
      watched.set(apnsId, {});
    },
    retryAfterOf: (apnsId) => watched.get(apnsId)?.retryAfter,
    sessionOf: (apnsId) => watched.get(apnsId)?.session,
    forget(apnsId) {
      watched.delete(apnsId);
    },
    stop() {
      diagnostics.unsubscribe(CREATED_CHANNEL, onCreated);
      diagnostics.unsubscribe(RESPONSE_CHANNEL, onResponse);
    },
  };
}

const CREATED_CHANNEL = "http2.client.stream.created";
const RESPONSE_CHANNEL = "http2.client.stream.finish";

/** The library's connection, which it keeps in `client.session`. */
type LibraryClient = { session?: Http2Session | null };

function clientOf(provider: apn.Provider): LibraryClient {
  return (provider as unknown as { client: LibraryClient }).client;
}

/**
 * Leaves a session on which a request timed out: once a connection stops answering,
 * every request on it times out, and the library would send on it until restarted.
 * The library opens a new session for the next send; the requests still on this one
 * may finish within `graceMs`, after which it is destroyed. A session already left
 * (many requests time out together) is left alone.
 */
export function abandonSession(
  provider: apn.Provider,
  session: Http2Session,
  graceMs: number,
): void {
  const client = clientOf(provider);
  if (client.session !== session) return;
  client.session = null;
  leaveSession(session, graceMs);
}

/**
 * PINGs the library's session every `intervalMs`, and leaves it when no answer comes
 * within `timeoutMs`: the library's own heartbeat only logs a missing answer.
 * Returns the function that stops it.
 */
export function keepAlive(
  provider: apn.Provider,
  intervalMs: number,
  timeoutMs: number,
): () => void {
  return pingEvery(
    () => clientOf(provider).session,
    (session) => {
      abandonSession(provider, session, 0);
    },
    { intervalMs, timeoutMs },
  );
}

/**
 * Shuts a library provider down. Its shutdown waits for `session.close()` to call back,
 * which Node never does for a session already destroyed (a refused or dropped
 * connection that no later send replaced), so it would hang: such a session is
 * forgotten first, as there is nothing left to close.
 */
export function shutdown(provider: apn.Provider): Promise<void> {
  const client = clientOf(provider);
  if (client.session?.destroyed === true) client.session = null;
  return new Promise((resolve) => {
    // Typed as a promise, but returns nothing: the callback is the only signal.
    void provider.shutdown(resolve);
  });
}
