// Incentives (激励): a rep's earnings (我的激励) and a team's payouts with its statements.
// Every amount on screen carries the API's exact value in data-value; money is shown to
// the currency's minor unit in the current language.
import { api, apiBlob, apiUrl } from "./api.js";
import { field, h, select } from "./dom.js";
import { money, num, pct, when } from "./format.js";
import { lang, pick, t } from "./i18n.js";
import {
  chip, controls, fill, message, periodSelect, repName, rootTeams, teamName, teamSelect,
} from "./views.js";

function amount(name, raw, currency, extra = {}) {
  return h("span", { class: `v v-${name}`, dataset: { field: name, value: raw ?? "" }, ...extra }, money(raw, currency));
}

// A table whose header cells may carry a class ([label, "num hide-sm"]), so that columns
// hidden on phones lose their header too.
function grid(headers, rows, attrs = {}) {
  const th = (x) => (Array.isArray(x) ? h("th", { class: x[1] }, x[0]) : h("th", {}, x));
  return h("div", { class: "table-wrap" },
    h("table", attrs, h("thead", {}, h("tr", {}, headers.map(th))), h("tbody", {}, rows)));
}

function componentLabel(c) {
  const kind = c.kind ?? c.type;
  return h("span", { class: "component" }, t(`inc.type.${kind}`), h("small", {}, c.component));
}

function planNames(segments) {
  return segments.map((s) => `${pick(s.names, s.plan)} v${s.version}`).join(" · ");
}

// The first and last day of a month key (YYYY-MM), as ISO days.
function monthDays(key) {
  const [y, m] = key.split("-").map(Number);
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return [`${key}-01`, `${key}-${String(last).padStart(2, "0")}`];
}

function monthOnly(env, p) {
  return p.period && /^\d{4}-\d{2}$/.test(p.period) ? p.period : env.ctx.periods.focus_month || env.ctx.periods.month[0];
}

// A file from the API: fetched with the key in its header, then saved or opened.
async function saveFile(env, path, params, filename) {
  try {
    const blob = await apiBlob(path, { params });
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (err) { env.fail(err); }
}

async function openPage(env, path, params) {
  const win = window.open("", "_blank"); // opened on the click, so no popup blocker stops it
  try {
    const blob = await apiBlob(path, { params });
    const url = URL.createObjectURL(new Blob([blob], { type: "text/html" }));
    if (win) win.location.href = url;
    else window.location.assign(url);
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (err) { win?.close(); env.fail(err); }
}

// A link to an API file: its href names the route (for curl and the docs); a click fetches
// it with the key.
function fileLink(env, { cls, label, path, params, filename }) {
  const url = apiUrl(path, params);
  return h("a", {
    class: cls, href: url.pathname + url.search, dataset: { path, format: params.format ?? "" },
    onclick: (e) => { e.preventDefault(); if (filename) saveFile(env, path, params, filename); else openPage(env, path, params); },
  }, label);
}

// -- 我的激励: a rep's month ---------------------------------------------------------------

function linesTable(r, currency) {
  const rows = r.lines.map((ln) => h("tr", { dataset: { component: ln.component, kind: ln.kind } },
    h("td", {}, componentLabel(ln), h("small", {}, `${ln.plan} v${ln.version}`)),
    h("td", { class: "hide-sm" }, ln.start && ln.end ? `${ln.start} – ${ln.end}` : ln.source_period ?? ""),
    h("td", {}, ln.basis),
    h("td", { class: "num" }, ln.base === null ? "–" : new Intl.NumberFormat(lang(), { maximumFractionDigits: 2 }).format(num(ln.base))),
    h("td", { class: "num" }, ln.attainment === null ? "–" : pct(ln.attainment, 1)),
    h("td", { class: "num hide-sm" }, ln.rate === null ? "–" : String(num(ln.rate))),
    h("td", { class: "num hide-sm" }, ln.tier === null ? "" : String(ln.tier)),
    h("td", { class: "hide-sm" }, ln.applied.map((a) => `${a.key} ${a.passed === null ? "" : t(a.passed ? "inc.passed" : "inc.failed")} ×${num(a.factor)}`).join(", ")),
    h("td", { class: "num" }, amount("line-amount", ln.amount, currency))));
  return grid([t("inc.component"), [t("inc.days_col"), "hide-sm"], t("inc.basis"), [t("inc.base"), "num"], [t("attainment"), "num"],
    [t("inc.rate"), "num hide-sm"], [t("inc.tier"), "num hide-sm"], [t("inc.applied"), "hide-sm"], [t("inc.amount"), "num"]], rows, { class: "lines-table" });
}

function whatIfCard(env, { rep, period, currency }) {
  const [first, last] = monthDays(period);
  const today = env.ctx.periods.today;
  const day = today < first ? first : today > last ? last : today;
  const amountInput = h("input", { type: "number", name: "amount", min: 0, step: "any", required: true, value: "100000", "aria-label": t("inc.whatif.amount") });
  const dayInput = h("input", { type: "date", name: "day", min: first, max: last, value: day, required: true, "aria-label": t("inc.whatif.day") });
  const newInput = h("input", { type: "checkbox", name: "is_new_customer" });
  const result = h("div", { class: "whatif-result", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, t("inc.whatif.submit"));
  const clear = () => { result.replaceChildren(); env.setBusy(false); };
  const form = h("form", { class: "whatif-form", onsubmit: async (e) => {
    e.preventDefault();
    env.setBusy(true); // the view holds still while a result is shown
    button.disabled = true;
    try {
      const w = await api("/v1/earnings/what-if", { method: "POST", body: {
        rep, period, deals: [{ amount: amountInput.value, day: dayInput.value, is_new_customer: newInput.checked }],
      } });
      result.replaceChildren(
        h("p", { class: "whatif-message" }, pick(w.message)),
        h("dl", { class: "inc-figures" },
          h("div", {}, h("dt", {}, t("inc.whatif.gain")), h("dd", {}, amount("gain", w.gain, currency))),
          h("div", {}, h("dt", {}, t("inc.whatif.with")), h("dd", {}, amount("earned-with", w.earned_with, currency))),
          h("div", {}, h("dt", {}, t("inc.whatif.projected")), h("dd", {}, amount("projected-with", w.projected_with, currency)))),
        h("button", { type: "button", class: "link", onclick: clear }, t("inc.whatif.clear")));
    } catch (err) { env.setBusy(false); env.fail(err); }
    button.disabled = false;
  } },
  field(t("inc.whatif.amount"), amountInput), field(t("inc.whatif.day"), dayInput),
  h("label", { class: "check" }, newInput, h("span", {}, t("inc.whatif.new"))), button);
  return h("section", { class: "card whatif" }, h("h2", {}, t("inc.whatif")), form, result);
}

export async function incentives(env) {
  const p = env.params;
  const repId = p.rep || env.ctx.reps[0]?.id;
  const period = monthOnly(env, p);
  if (!repId) return message(t("no_rows"));
  const data = await api("/v1/earnings", { params: { scope: `rep:${repId}`, period } });
  const cur = data.currency;
  const r = data.reps.find((x) => x.rep === repId) || data.reps[0];
  const repOptions = env.ctx.reps.map((x) => [x.id, x.team_id ? `${x.name} · ${teamName(env, x.team_id)}` : x.name]);
  const head = h("section", { class: "view view-incentives", dataset: { asOf: data.as_of, rep: repId, period, earned: r?.earned ?? "", closed: String(data.closed) } },
    h("h1", {}, `${t("nav.incentives")} · ${r?.name ?? repName(env, repId)} · ${period}`),
    controls(
      field(t("rep"), select(repOptions, repId, (v) => env.go("incentives", { ...p, rep: v }), { name: "rep" })),
      periodSelect(env, period, (v) => env.go("incentives", { ...p, rep: repId, period: v }), ["month"]),
      data.closed ? h("div", { class: "close-state" }, chip("closing", "closed")) : null));
  if (!r || !r.plans.length) {
    head.append(h("section", { class: "card" }, message(t("inc.none"))));
    return head;
  }
  const components = r.components.map((c) => h("tr", { dataset: { component: c.component, type: c.type, plan: c.plan } },
    h("td", {}, componentLabel(c)), h("td", { class: "hide-sm" }, c.plan),
    h("td", { class: "num" }, amount("component-earned", c.earned, cur)),
    h("td", { class: "num" }, amount("component-projected", c.projected, cur))));
  const tiers = r.next_tiers.map((x) => h("li", { class: "next-tier", dataset: { component: x.component, kpi: x.kpi, more: x.more, gain: x.gain } },
    h("span", { class: "tier-message" }, pick(x.message)),
    h("small", {}, `${t(`inc.type.${r.components.find((c) => c.component === x.component)?.type ?? "commission"}`)} · ${x.component}`)));
  head.append(
    h("section", { class: "card inc-summary", dataset: { rep: r.rep } },
      h("dl", { class: "inc-figures big" },
        h("div", {}, h("dt", {}, t("inc.earned")), h("dd", {}, amount("earned", r.earned, cur))),
        h("div", {}, h("dt", {}, t("inc.projected")), h("dd", {}, amount("projected", r.projected, cur)))),
      h("p", { class: "muted" },
        `${t("inc.plans")}: ${planNames(r.plans)} · `,
        fill(t("inc.days"), { elapsed: data.working_days_elapsed, total: data.working_days_total }),
        ` · ${t("as_of")} ${when(data.as_of)}`)),
    h("section", { class: "card" }, h("h2", {}, t("inc.next")),
      tiers.length ? h("ul", { class: "next-tiers" }, tiers) : message(t("inc.next.none"))),
    h("section", { class: "card" }, h("h2", {}, t("inc.components")),
      grid([t("inc.component"), [t("inc.plan"), "hide-sm"], [t("inc.earned"), "num"], [t("inc.projected"), "num"]], components, { class: "components-table" }),
      h("details", { class: "inc-lines" }, h("summary", {}, t("inc.lines")), linesTable(r, cur))),
    data.closed ? null : whatIfCard(env, { rep: r.rep, period, currency: cur }));
  return head;
}

// -- 团队激励: a team's payouts and statements ----------------------------------------------

function statementRow(env, s, { admin, team }) {
  const busy = (fn) => async (e) => {
    e.target.disabled = true;
    try {
      await fn();
      await env.refresh();
    } catch (err) { e.target.disabled = false; env.fail(err); }
  };
  const path = `/v1/statements/${s.id}`;
  const actions = [
    fileLink(env, { cls: "statement-print", label: t("pay.print"), path, params: { format: "html", lang: lang() } }),
    " · ",
    fileLink(env, { cls: "statement-csv", label: t("pay.csv"), path, params: { format: "csv" }, filename: `statement-${s.id}-${s.period}.csv` }),
  ];
  if (admin && s.status === "draft") {
    actions.push(" ", h("button", { type: "button", class: "approve", onclick: busy(() => api(`${path}/approve`, { method: "POST", body: { note: "" } })) }, t("pay.approve")));
  }
  if (admin && s.status === "approved") {
    actions.push(" ", h("button", { type: "button", class: "pay", onclick: busy(() => api(`${path}/pay`, { method: "POST", body: { note: "" } })) }, t("pay.pay")));
  }
  return h("tr", { dataset: { statement: s.id, rep: s.rep, status: s.status, team } },
    h("td", {}, h("a", { href: env.href("incentives", { rep: s.rep, period: s.period }) }, s.name || s.rep)),
    h("td", { class: "num" }, amount("statement-total", s.total, s.currency)),
    h("td", {}, h("span", { class: `chip pay-${s.status}`, dataset: { status: s.status } }, t(`pay.status.${s.status}`))),
    h("td", { class: "hide-sm" }, s.approved_by ? `${s.approved_by} · ${when(s.approved_at)}` : ""),
    h("td", { class: "hide-sm" }, s.paid_by ? `${s.paid_by} · ${when(s.paid_at)}` : ""),
    h("td", { class: "actions" }, actions));
}

async function statementsCard(env, { period, reps, closed, team }) {
  const admin = env.ctx.scopes.includes("admin");
  const head = [h("h2", {}, t("pay.statements"))];
  if (admin && closed) {
    head.push(fileLink(env, { cls: "payroll-csv", label: t("pay.payroll"), path: "/v1/payroll", params: { period }, filename: `payroll-${period}.csv` }));
  }
  const card = h("section", { class: "card statements", dataset: { period } }, h("div", { class: "card-head" }, head));
  if (!closed) {
    card.append(message(t("pay.not_closed")));
    return card;
  }
  const list = await api("/v1/statements", { params: { period } });
  const mine = list.statements.filter((s) => reps.has(s.rep));
  if (!mine.length) {
    card.append(message(t("pay.no_statements")));
    if (admin) {
      card.append(h("button", { type: "button", class: "generate", onclick: async (e) => {
        e.target.disabled = true;
        try {
          await api("/v1/statements", { method: "POST", body: { period } });
          await env.refresh();
        } catch (err) { e.target.disabled = false; env.fail(err); }
      } }, t("pay.generate")));
    }
    return card;
  }
  card.dataset.count = String(mine.length);
  card.append(grid([t("name"), [t("pay.statement"), "num"], t("status"), [t("pay.approved"), "hide-sm"], [t("pay.paid"), "hide-sm"], t("pay.actions")],
    mine.map((s) => statementRow(env, s, { admin, team })), { class: "statements-table" }));
  return card;
}

export async function payouts(env) {
  const p = env.params;
  const team = p.team || rootTeams(env)[0]?.id;
  const period = monthOnly(env, p);
  if (!team) return message(t("no_rows"));
  const data = await api("/v1/earnings", { params: { scope: `team:${team}`, period } });
  const cur = data.currency;
  const rows = data.reps.map((r) => h("tr", { dataset: { rep: r.rep, earned: r.earned, projected: r.projected } },
    h("td", {}, h("a", { href: env.href("incentives", { rep: r.rep, period }) }, r.name || r.rep)),
    h("td", { class: "hide-sm" }, r.team ? teamName(env, r.team) : ""),
    h("td", { class: "hide-sm" }, planNames(r.plans)),
    h("td", { class: "num" }, amount("earned", r.earned, cur)),
    h("td", { class: "num" }, amount("projected", r.projected, cur))));
  const pools = data.pools.map((x) => h("tr", { dataset: { team: x.team, plan: x.plan, component: x.component } },
    h("td", {}, teamName(env, x.team)), h("td", { class: "hide-sm" }, `${x.plan} · ${x.component}`),
    h("td", { class: "num" }, x.attainment === null ? "–" : pct(x.attainment, 1)),
    h("td", { class: "num" }, amount("pool", x.pool, cur)),
    h("td", { class: "num" }, amount("allocated", x.allocated, cur))));
  return h("section", { class: "view view-payouts", dataset: { asOf: data.as_of, team, period, closed: String(data.closed) } },
    h("h1", {}, `${t("nav.payouts")} · ${teamName(env, team)} · ${period}`),
    controls(
      teamSelect(env, team, (v) => env.go("payouts", { ...p, team: v })),
      periodSelect(env, period, (v) => env.go("payouts", { ...p, team, period: v }), ["month"]),
      data.closed ? h("div", { class: "close-state" }, chip("closing", "closed")) : null),
    h("section", { class: "card inc-summary" },
      h("dl", { class: "inc-figures big" },
        h("div", {}, h("dt", {}, t("pay.total")), h("dd", {}, amount("team-earned", data.earned, cur))),
        h("div", {}, h("dt", {}, t("inc.projected")), h("dd", {}, amount("team-projected", data.projected, cur)))),
      h("p", { class: "muted" }, fill(t("inc.days"), { elapsed: data.working_days_elapsed, total: data.working_days_total }),
        ` · ${t("as_of")} ${when(data.as_of)}`)),
    h("section", { class: "card" }, h("h2", {}, t("pay.reps")),
      rows.length ? grid([t("name"), [t("team"), "hide-sm"], [t("inc.plans"), "hide-sm"], [t("inc.earned"), "num"], [t("inc.projected"), "num"]], rows, { class: "payout-table" }) : message(t("no_rows"))),
    pools.length ? h("section", { class: "card" }, h("h2", {}, t("pay.pools")),
      grid([t("team"), [t("inc.component"), "hide-sm"], [t("attainment"), "num"], [t("pay.pool"), "num"], [t("pay.allocated"), "num"]], pools, { class: "pools-table" })) : null,
    await statementsCard(env, { period, reps: new Set(data.reps.map((r) => r.rep)), closed: data.closed, team }));
}

export const INCENTIVE_VIEWS = { incentives, payouts };
