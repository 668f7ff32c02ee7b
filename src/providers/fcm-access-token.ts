import type { Credential } from "firebase-admin/app";

/** The fields of a service account key file (the JSON the Firebase console gives). */
export type FcmServiceAccount = {
  project_id: string;
  client_email: string;
  private_key: string;
  [field: string]: unknown;
};

/**
 * Refresh this long before a token expires. Below google-auth-library's own 5-minute
 * eager refresh, so that the credential really hands out a new token when asked.
 */
const REFRESH_MARGIN_MS = 2 * 60_000;

/** The OAuth 2 access tokens FCM sends are authorized with. */
export type AccessTokens = {
  /** The cached token while it is fresh. */
  current(): string | undefined;
  /** A new token; concurrent callers share one request. */
  refresh(): Promise<string>;
  /** Drops the cached token (FCM refused it). */
  forget(): void;
};

/**
 * A fixed token, or tokens minted from a service account key by firebase-admin's
 * credential, cached until shortly before they expire. Rejects when the key cannot be
 * used.
 */
export async function createAccessTokens(
  options: { accessToken?: string; serviceAccount?: FcmServiceAccount },
  clock: () => Date,
): Promise<AccessTokens> {
  const fixed = options.accessToken;
  if (fixed !== undefined)
    return {
      current: () => fixed,
      refresh: () => Promise.resolve(fixed),
      forget() {},
    };
  if (options.serviceAccount === undefined)
    throw new Error("FCM needs an accessToken or a serviceAccount");
  // firebase-admin costs ~24 MiB of resident memory, for a service account only: a
  // fixed access token does without it. cert() parses the key now, so a bad key fails
  // at startup.
  const { cert } = await import("firebase-admin/app");
  const { project_id, client_email, private_key } = options.serviceAccount;
  const credential: Credential = cert({
    projectId: project_id,
    clientEmail: client_email,
    privateKey: private_key,
  });
  let cached: { token: string; refreshAt: number } | undefined;
  let inFlight: Promise<string> | undefined;
  const refresh = async (): Promise<string> => {
    const asked = clock().getTime();
    const { access_token, expires_in } = await credential.getAccessToken();
    const lifetimeMs = expires_in * 1000;
    // Half the lifetime at least, so a short-lived token cannot make every send refresh.
    const refreshIn = Math.max(lifetimeMs - REFRESH_MARGIN_MS, lifetimeMs / 2);
    cached = { token: access_token, refreshAt: asked + refreshIn };
    return access_token;
  };
  return {
    current: () =>
      cached !== undefined && clock().getTime() < cached.refreshAt
        ? cached.token
        : undefined,
    refresh() {
      inFlight ??= refresh().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    forget() {
      cached = undefined;
    },
  };
}

/** Rejects with code TIMEOUT after `ms`; the promise itself goes on (it is shared). */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(Object.assign(new Error("timed out"), { code: "TIMEOUT" }));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}
