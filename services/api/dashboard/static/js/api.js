// The API client: the key comes from the browser's storage and goes in a header.
const KEY = "paceline.key";

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

export async function api(path, { method = "GET", params = {}, body, key = storedKey() } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
  }
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}
