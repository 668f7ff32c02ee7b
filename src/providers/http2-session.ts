import type { Http2Session } from "node:http2";

/*
 * What Nudge does with an HTTP/2 session that stopped answering, for its APNs
 * connection (node-apn's session) and its FCM connection (its own) alike.
 */

/**
 * Leaves a session: no new request goes on it, those in flight may finish within
 * `graceMs`, then it is destroyed (at once for 0).
 */
export function leaveSession(session: Http2Session, graceMs: number): void {
  if (session.destroyed) return;
  if (graceMs === 0) {
    session.destroy();
    return;
  }
  session.close();
  setTimeout(() => {
    session.destroy();
  }, graceMs).unref();
}

/**
 * PINGs the current session every `intervalMs`, and calls `leave` with it when no
 * answer comes within `timeoutMs`: an idle connection whose path went silent would
 * otherwise be found only by the requests that time out on it. Returns the function
 * that stops it.
 */
export function pingEvery<S extends Http2Session>(
  sessionOf: () => S | null | undefined,
  leave: (session: S) => void,
  { intervalMs, timeoutMs }: { intervalMs: number; timeoutMs: number },
): () => void {
  const ping = () => {
    const session = sessionOf();
    if (!session || session.connecting || session.closed || session.destroyed)
      return;
    const deadline = setTimeout(() => {
      leave(session);
    }, timeoutMs).unref();
    // Called with an error too when the session goes first: nothing left to leave.
    const answered = () => {
      clearTimeout(deadline);
    };
    if (!session.ping(answered)) answered();
  };
  const timer = setInterval(ping, intervalMs).unref();
  return () => {
    clearInterval(timer);
  };
}
