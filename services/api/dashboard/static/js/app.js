// The dashboard shell: key, language, routing (#/view?params), polling for changes.
import { ApiError, api, csrfToken, forgetKey, signInOptions, signOut, storeKey, storedKey, takeKeyFromUrl } from "./api.js";
import { h } from "./dom.js";
import { clock } from "./format.js";
import { LANGS, lang, setLang, t } from "./i18n.js";
import { INCENTIVE_VIEWS } from "./incentives.js";
import { VIEWS as BASE_VIEWS } from "./views.js";

const VIEWS = { ...BASE_VIEWS, ...INCENTIVE_VIEWS };

const LANG_KEY = "paceline.lang";
const FULL_REFRESH_MS = 60_000; // time moves expected-to-date even without new events
const state = { ctx: null, me: null, charts: [], token: null, renders: 0, busy: false, timer: null, lastFull: 0, rendering: null };
const main = document.getElementById("main");

function route() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [view, query] = raw.split("?");
  return { view: VIEWS[view] ? view : "overview", params: Object.fromEntries(new URLSearchParams(query || "")) };
}

function href(view, params = {}) {
  const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== ""));
  const q = new URLSearchParams(clean).toString();
  return `#/${view}${q ? `?${q}` : ""}`;
}

function go(view, params) {
  location.hash = href(view, params);
}

function labels() {
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.getElementById("lang").textContent = t("lang.other");
  document.title = `Paceline · ${t(`nav.${route().view}`)}`;
}

function markNav(view) {
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === view));
}

function setLive(ok) {
  const el = document.getElementById("live");
  el.classList.toggle("offline", !ok);
  el.title = ok ? t("live") : t("offline");
}

function failBox(err) {
  return h("section", { class: "card error", role: "alert" },
    h("h2", {}, t("error")), h("p", {}, err?.message || String(err)),
    h("button", { type: "button", onclick: () => render() }, t("retry")));
}

async function render({ quiet = false } = {}) {
  if (!state.ctx) return;
  const { view, params } = route();
  // A manager or a rep reads their own scope unless they chose one.
  const reach = state.me?.reach;
  if (!params.scope && reach && !reach.company) {
    const user = state.me.user || {};
    if (state.me.role === "rep" && user.rep_id) params.scope = `rep:${user.rep_id}`;
    else if (reach.teams.length) params.scope = `team:${reach.teams.includes(user.team_id) ? user.team_id : reach.teams[0]}`;
  }
  markNav(view);
  labels();
  const pending = [];
  const charts = [];
  const env = {
    ctx: state.ctx, params, href, go,
    charts,
    afterMount: (fn) => pending.push(fn),
    refresh: () => render({ quiet: true }),
    setBusy: (busy) => { state.busy = busy; },
    fail: (err) => main.prepend(failBox(err)),
  };
  const run = (async () => {
    let node;
    try {
      node = await VIEWS[view](env);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) { askKey(authProblem()); return; }
      if (quiet) { setLive(false); return; }
      node = failBox(err);
    }
    const old = state.charts;
    const y = window.scrollY;
    main.replaceChildren(node);
    if (quiet) window.scrollTo(0, y);
    state.charts = charts;
    old.forEach((c) => c?.destroy());
    pending.forEach((fn) => fn());
    state.busy = false;
    state.renders += 1;
    document.body.dataset.renders = String(state.renders);
    document.body.dataset.view = view;
    document.getElementById("asof").textContent = `${t("updated")} ${clock()}`;
    setLive(true);
  })();
  state.rendering = run;
  await run;
}

async function poll() {
  if (!state.ctx) return;
  try {
    const c = await api("/v1/dashboard/changes");
    setLive(true);
    const changed = state.token !== null && c.token !== state.token;
    state.token = c.token;
    document.body.dataset.token = c.token;
    const stale = Date.now() - state.lastFull > FULL_REFRESH_MS;
    if ((changed || stale) && !state.busy) {
      state.lastFull = Date.now();
      await render({ quiet: true });
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) askKey(authProblem());
    else setLive(false);
  }
}

// Why the caller was refused: their key, or their sign-in that ended.
function authProblem() {
  return storedKey() ? t("key.bad") : t("signin.expired");
}

function askKey(problem = "") {
  state.ctx = null;
  clearInterval(state.timer);
  const dialog = document.getElementById("keydialog");
  document.getElementById("key-error").textContent = problem;
  dialog.hidden = false;
  document.getElementById("key-input").focus();
  offerSignIn();
}

// The sign-in button, when the tenant (?tenant=..., else the server's default) has a provider.
async function offerSignIn() {
  let options;
  try { options = await signInOptions(); } catch { return; }
  const box = document.getElementById("signin");
  box.hidden = !options.oidc;
  if (!options.oidc) return;
  const next = `/dashboard/${location.search}${location.hash || "#/overview"}`;
  document.getElementById("signin-link").href = `${options.login_url}?next=${encodeURIComponent(next)}`;
}

async function start() {
  try {
    state.ctx = await api("/v1/dashboard/context");
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      const hadKey = Boolean(storedKey());
      forgetKey();
      askKey(hadKey ? t("key.bad") : csrfToken() ? t("signin.expired") : "");
      return;
    }
    main.replaceChildren(failBox(err));
    return;
  }
  try { state.me = await api("/v1/me"); } catch { state.me = null; }
  if (!localStorage.getItem(LANG_KEY)) setLang(state.ctx.locale);
  document.getElementById("keydialog").hidden = true;
  document.getElementById("tenant").textContent = state.ctx.name;
  state.lastFull = Date.now();
  await render();
  clearInterval(state.timer);
  state.timer = setInterval(poll, Math.max(1, state.ctx.poll_interval_s) * 1000);
  poll();
}

function boot() {
  const chosen = localStorage.getItem(LANG_KEY);
  setLang(chosen || (navigator.language?.startsWith("zh") ? "zh-CN" : "en"));
  const fromUrl = takeKeyFromUrl();
  if (fromUrl) storeKey(fromUrl, true);
  labels();
  window.addEventListener("hashchange", () => render());
  document.getElementById("lang").addEventListener("click", () => {
    const next = LANGS[(LANGS.indexOf(lang()) + 1) % LANGS.length];
    localStorage.setItem(LANG_KEY, next);
    setLang(next);
    labels();
    render();
  });
  document.getElementById("signout").addEventListener("click", async () => {
    forgetKey();
    try { await signOut(); } catch { /* the cookie ends with its expiry anyway */ }
    askKey();
  });
  document.getElementById("keyform").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = document.getElementById("key-input").value.trim();
    if (!key) return;
    storeKey(key, document.getElementById("key-remember").checked);
    document.getElementById("key-input").value = "";
    start();
  });
  // A key in storage, else a sign-in (its readable CSRF cookie lives as long as the
  // session cookie): start() asks for a key or a sign-in again on 401.
  if (storedKey() || csrfToken()) start();
  else askKey();
}

boot();
