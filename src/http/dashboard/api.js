// The admin API, read with the token the user typed (kept in this tab only).

const TOKEN_KEY = "nudge-admin-token";

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** An answer that was not 2xx: its status, and the API's error code and message. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `The server answered ${status}.`);
    this.status = status;
    this.code =
      body?.error?.code ?? (status === 401 ? "unauthorized" : "http_error");
    this.details = body?.error?.details;
  }
}

/** Calls the admin API; answers `{body, etag}` or throws an ApiError. */
export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const response = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${token.get()}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json =
    response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, json);
  return { body: json, etag: response.headers.get("etag") };
}

/** Prometheus' text format read into a map of series → value. */
export async function metrics() {
  const text = await (await fetch("/metrics")).text();
  const values = new Map();
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) values.set(match[1], Number(match[2]));
  }
  return values;
}
