// The business session kept in sessionStorage (this tab only, gone when it closes), so that a reload or a
// lost network signs in again with the token instead of the single-use link. Never the link's secret.

const KEY = "madoguchi.business";

export function load() {
  try {
    const data = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return data && typeof data.token === "string" ? data : null;
  } catch {
    return null;
  }
}

export function save(data) {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(data));
  } catch {
    /* storage disabled: a reload then needs the link again */
  }
}

export function update(fields) {
  const data = load();
  if (data) save({ ...data, ...fields });
}

export function forget() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    /* nothing kept */
  }
}

/** Take the secret out of the address bar (and so out of history and screenshots) and return it. */
export function takeSecret() {
  const secret = decodeURIComponent(location.hash.replace(/^#/, ""));
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  return secret;
}

/**
 * POST /api/business/redeem. Resolves to {ok: true, session} or {ok: false, error, retryAfterS, validFrom};
 * a network failure is {ok: false, error: "network"}.
 */
export async function redeem(secret, code) {
  const body = code ? { secret, code } : { secret };
  let response;
  try {
    response = await fetch("/api/business/redeem", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    return { ok: false, error: "network" };
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    /* an answer without JSON: judged by its status below */
  }
  if (response.ok && typeof data.session_token === "string") {
    return { ok: true, session: { token: data.session_token, business: data.business, wsUrl: data.ws_url } };
  }
  const retry = Number(data.retry_after_s ?? response.headers.get("Retry-After") ?? 0);
  return {
    ok: false,
    error: typeof data.error === "string" ? data.error : response.status === 429 ? "throttled" : "invalid",
    retryAfterS: Number.isFinite(retry) ? retry : 0,
    validFrom: data.valid_from,
  };
}
