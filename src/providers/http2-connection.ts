import http2, {
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import { createSlots } from "../slots.ts";
import { leaveSession, pingEvery } from "./http2-session.ts";

/** A service's answer to one request. */
export type Http2Answer = {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
};

/** A request that got no answer: none within the timeout, or the connection failed. */
export class Http2Failure extends Error {
  readonly timedOut: boolean;
  readonly code: string | undefined;
  constructor(message: string, timedOut: boolean, code?: string) {
    super(message);
    this.timedOut = timedOut;
    this.code = code;
  }
}

export type Http2Connection = {
  /** Sends one request; rejects with an {@link Http2Failure} when no answer comes. */
  request(headers: OutgoingHttpHeaders, body: string): Promise<Http2Answer>;
  /** Lets the requests in flight finish, then closes. */
  close(): Promise<void>;
};

export type Http2ConnectionOptions = {
  /** CA certificates (PEM) trusted instead of the system's. */
  ca?: string | string[] | undefined;
  /** Time for a request's whole answer, and for a PING's. */
  timeoutMs: number;
  /** How often a PING checks the connection. */
  keepAliveMs: number;
  /** Requests in flight at once; the others wait for one to finish. */
  maxStreams: number;
};

/**
 * One persistent HTTP/2 connection to `origin` on Node's own client, opened at the first
 * request and again after it is left. A connection is left when a request on it gets
 * no answer in time or a PING goes unanswered: once a peer or the path goes silent,
 * every request on that connection would time out, so the next ones go on a new
 * connection while those in flight may still finish on the old one within the timeout.
 */
export function connectHttp2(
  origin: string,
  options: Http2ConnectionOptions,
): Http2Connection {
  const slots = createSlots(options.maxStreams);
  const state: ConnectionState = {
    origin,
    options,
    leaving: new Set(),
    current: undefined,
  };
  const stopPings = pingEvery(
    () => state.current,
    (session) => {
      leaveConnection(state, session, 0);
    },
    { intervalMs: options.keepAliveMs, timeoutMs: options.timeoutMs },
  );
  return {
    async request(headers, body) {
      const wait = slots.take();
      if (wait !== undefined) await wait;
      try {
        return await sendRequest(state, headers, body);
      } finally {
        slots.give();
      }
    },
    close: () => closeConnection(state, stopPings),
  };
}

/** What a connection's requests, PINGs and close share. */
type ConnectionState = {
  readonly origin: string;
  readonly options: Http2ConnectionOptions;
  /** Sessions left with a grace period, destroyed at close if still open. */
  readonly leaving: Set<ClientHttp2Session>;
  /** The session new requests go on, opened again once left. */
  current: ClientHttp2Session | undefined;
};

function leaveConnection(
  state: ConnectionState,
  session: ClientHttp2Session,
  graceMs: number,
): void {
  if (state.current === session) state.current = undefined;
  if (graceMs > 0 && !session.destroyed) state.leaving.add(session);
  leaveSession(session, graceMs);
}

function openSession(state: ConnectionState): ClientHttp2Session {
  if (state.current !== undefined) return state.current;
  const { ca } = state.options;
  const session = http2.connect(state.origin, { ...(ca && { ca }) });
  // Each request tells its own failure; the session's error has no one to tell.
  session.on("error", () => undefined);
  // The peer takes no new streams on it: the next requests go on a new connection.
  session.on("goaway", () => {
    if (state.current === session) state.current = undefined;
  });
  session.once("close", () => {
    state.leaving.delete(session);
    if (state.current === session) state.current = undefined;
  });
  state.current = session;
  return session;
}

function sendRequest(
  state: ConnectionState,
  headers: OutgoingHttpHeaders,
  body: string,
): Promise<Http2Answer> {
  return new Promise<Http2Answer>((resolve, reject) => {
    const session = openSession(state);
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers);
    } catch (error) {
      leaveConnection(state, session, 0);
      reject(failureOf(error));
      return;
    }
    awaitAnswer(state, session, stream, { resolve, reject });
    stream.end(body);
  });
}

type Settle = {
  resolve: (answer: Http2Answer) => void;
  reject: (failure: Http2Failure) => void;
};

/** Settles once with the stream's answer, or with why none came. */
function awaitAnswer(
  state: ConnectionState,
  session: ClientHttp2Session,
  stream: http2.ClientHttp2Stream,
  { resolve, reject }: Settle,
): void {
  const { timeoutMs } = state.options;
  let status = 0;
  let answer: IncomingHttpHeaders = {};
  let text = "";
  let settled = false;
  const fail = (failure: () => Http2Failure) => {
    clearTimeout(timer);
    // An error is built only when it is the outcome: each captures a stack.
    if (!settled) reject(failure());
    settled = true;
  };
  const timer = setTimeout(() => {
    leaveConnection(state, session, timeoutMs);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    fail(() => new Http2Failure(`no answer within ${timeoutMs} ms`, true));
  }, timeoutMs);
  stream.setEncoding("utf8");
  stream.on("response", (received) => {
    status = Number(received[":status"]);
    answer = received;
  });
  stream.on("data", (chunk: string) => (text += chunk));
  // A stream of a session that went away may end without an answer.
  stream.on("end", () => {
    if (status === 0) return;
    clearTimeout(timer);
    settled = true;
    resolve({ status, headers: answer, body: text });
  });
  // After "end", or instead of it.
  stream.on("close", () => {
    fail(
      () =>
        new Http2Failure(
          `stream closed without an answer (code ${String(stream.rstCode)})`,
          false,
        ),
    );
  });
  stream.on("error", (error) => {
    fail(() => failureOf(error));
  });
}

async function closeConnection(
  state: ConnectionState,
  stopPings: () => void,
): Promise<void> {
  stopPings();
  for (const session of state.leaving) session.destroy();
  const session = state.current;
  state.current = undefined;
  if (session === undefined || session.closed) return;
  await new Promise<void>((resolve) => {
    session.close(resolve);
  });
}

function failureOf(error: unknown): Http2Failure {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return new Http2Failure(
    message,
    false,
    typeof code === "string" ? code : undefined,
  );
}
