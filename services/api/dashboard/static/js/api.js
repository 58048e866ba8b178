// The API client: the key comes from the browser's storage and goes in a header; without
// a key the browser's sign-in cookie is the caller (sent by the browser itself), and every
// unsafe request carries the CSRF token the sign-in set in a readable cookie.
const KEY = "paceline.key";
const CSRF_COOKIE = "paceline_csrf";

export function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith(`${CSRF_COOKIE}=`));
  return found ? decodeURIComponent(found.slice(CSRF_COOKIE.length + 1)) : null;
}

function authHeaders(headers, key, method) {
  if (key) headers.Authorization = `Bearer ${key}`;
  else if (!["GET", "HEAD"].includes(method)) {
    const csrf = csrfToken();
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  return headers;
}

// Whether a sign-in (OpenID Connect) is offered: {tenant, oidc, login_url}.
export async function signInOptions() {
  const tenant = new URLSearchParams(location.search).get("tenant");
  const resp = await fetch(apiUrl("/auth/options", { tenant }), { headers: { Accept: "application/json" } });
  return resp.ok ? resp.json() : { oidc: false };
}

// End the browser's sign-in (the session cookie); keys are forgotten by forgetKey.
export async function signOut() {
  if (!csrfToken()) return;
  await fetch("/auth/logout", { method: "POST", headers: authHeaders({}, null, "POST") });
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY) || localStorage.getItem(KEY);
}

export function storeKey(key, remember) {
  sessionStorage.setItem(KEY, key);
  if (remember) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
}

// A key handed over in the URL fragment (#key=...) or, less safely, the query (?key=...):
// kept in storage and removed from the address bar at once.
export function takeKeyFromUrl() {
  const fromHash = location.hash.match(/[#&?]key=([^&]+)/);
  const fromQuery = new URLSearchParams(location.search).get("key");
  const key = fromHash ? decodeURIComponent(fromHash[1]) : fromQuery;
  if (!key) return null;
  let hash = location.hash.replace(/[#&?]?key=[^&]+/, "").replace(/^#?&?/, "");
  hash = hash.startsWith("/") ? `#${hash}` : "#/overview";
  const params = new URLSearchParams(location.search);
  params.delete("key");
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? `?${query}` : "") + hash);
  return key;
}

export function apiUrl(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
  }
  return url;
}

export async function api(path, { method = "GET", params = {}, body, key = storedKey() } = {}) {
  const headers = authHeaders({ Accept: "application/json" }, key, method);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(apiUrl(path, params), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

// A file from the API (a CSV, a printable page) as a Blob: the key still travels only in
// the header, so a plain link to the route cannot be followed.
export async function apiBlob(path, { params = {}, key = storedKey() } = {}) {
  const headers = authHeaders({}, key, "GET");
  const resp = await fetch(apiUrl(path, params), { headers });
  if (!resp.ok) {
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    throw new ApiError(resp.status, data);
  }
  return resp.blob();
}
