// The dashboard's views. Each takes the environment (context, parameters, navigation)
// and answers a DOM node; every number on screen carries its raw API value in data-value.
import { api } from "./api.js";
import { distributionChart, driversChart, seriesChart } from "./charts.js";
import { field, h, select } from "./dom.js";
import { fmt, num, pct, when } from "./format.js";
import { pick, t } from "./i18n.js";

// -- shared pieces ----------------------------------------------------------------------

function kpiInfo(env, key) {
  return env.ctx.kpis.find((k) => k.key === key) || { key, names: { en: key }, unit: "count", cumulative: true };
}

function kpiName(env, key) {
  return pick(kpiInfo(env, key).names, key);
}

export function teamName(env, id) {
  return env.ctx.teams.find((x) => x.id === id)?.name || id;
}

export function repName(env, id) {
  return env.ctx.reps.find((r) => r.id === id)?.name || id;
}

function scopeLabel(env, scope) {
  if (!scope || scope === "company") return t("company");
  const [kind, id] = [scope.slice(0, scope.indexOf(":")), scope.slice(scope.indexOf(":") + 1)];
  return kind === "team" ? teamName(env, id) : kind === "rep" ? repName(env, id) : scope;
}

function scopeLink(env, scope) {
  const label = scopeLabel(env, scope);
  if (scope?.startsWith("rep:") && env.ctx.reps.some((r) => r.id === scope.slice(4))) {
    return h("a", { href: env.href("rep", { rep: scope.slice(4) }) }, label);
  }
  if (scope?.startsWith("team:") || scope === "company") {
    return h("a", { href: env.href("overview", { scope }) }, label);
  }
  return h("span", {}, label);
}

export function value(field, raw, unit, currency, extra = {}) {
  return h("span", { class: `v v-${field}`, dataset: { field, value: raw ?? "" }, ...extra }, fmt(raw, unit, currency));
}

export function chip(kind, key) {
  return h("span", { class: `chip ${kind}-${key}`, dataset: { [kind]: key } }, t(`${kind}.${key}`));
}

export function rootTeams(env) {
  return env.ctx.teams.filter((x) => !x.parent_id || !env.ctx.teams.some((p) => p.id === x.parent_id));
}

export function teamTree(env) {
  const out = [];
  const walk = (team, depth) => {
    out.push([team, depth]);
    env.ctx.teams.filter((c) => c.parent_id === team.id).forEach((c) => walk(c, depth + 1));
  };
  rootTeams(env).forEach((r) => walk(r, 0));
  return out;
}

function scopeSelect(env, value, onchange, { company = true, reps = false } = {}) {
  const options = [];
  if (company) options.push(["company", t("company")]);
  for (const [team, depth] of teamTree(env)) options.push([`team:${team.id}`, `${"\u00a0\u00a0".repeat(depth)}${team.name}`]);
  if (reps) for (const r of env.ctx.reps) options.push([`rep:${r.id}`, `${r.name} (${r.id})`]);
  return field(t("scope"), select(options, value, onchange, { name: "scope" }));
}

export function teamSelect(env, value, onchange) {
  const options = teamTree(env).map(([team, depth]) => [team.id, `${"\u00a0\u00a0".repeat(depth)}${team.name}`]);
  return field(t("team"), select(options, value, onchange, { name: "team" }));
}

export function periodSelect(env, value, onchange, kinds = ["month", "quarter", "year", "week"]) {
  const el = h("select", { name: "period", onchange: (e) => onchange(e.target.value) });
  const seen = new Set();
  for (const kind of kinds) {
    const group = h("optgroup", { label: t(`kind.${kind}`) });
    for (const key of env.ctx.periods[kind]) {
      seen.add(key);
      group.append(h("option", { value: key, selected: key === value }, key));
    }
    el.append(group);
  }
  if (value && !seen.has(value)) el.prepend(h("option", { value, selected: true }, value));
  return field(t("period"), el);
}

function kpiSelect(env, value, onchange, { blank = null, keys = null } = {}) {
  const options = [];
  if (blank) options.push(["", blank]);
  for (const k of env.ctx.kpis) if (!keys || keys.includes(k.key)) options.push([k.key, pick(k.names, k.key)]);
  return field(t("kpi"), select(options, value || "", onchange, { name: "kpi" }));
}

export function controls(...items) {
  return h("div", { class: "controls" }, items);
}

export function table(headers, rows, attrs = {}) {
  return h("div", { class: "table-wrap" },
    h("table", attrs, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows)));
}

export function message(text, cls = "empty") {
  return h("p", { class: cls }, text);
}

// -- progress rows and the KPI chart -----------------------------------------------------

function bar(row) {
  const values = [row.actual, row.target, row.stretch, row.baseline, row.expected].map(num).filter((v) => v !== null);
  const scale = Math.max(...values, 0) * 1.08 || 1;
  const at = (v) => `${Math.max(0, Math.min(100, (num(v) / scale) * 100)).toFixed(2)}%`;
  const marks = [];
  if (num(row.baseline) !== null) marks.push(h("i", { class: "tick tick-baseline", style: { left: at(row.baseline) }, title: t("baseline") }));
  if (num(row.target) !== null) marks.push(h("i", { class: "tick tick-target", style: { left: at(row.target) }, title: t("target") }));
  if (num(row.stretch) !== null) marks.push(h("i", { class: "tick tick-stretch", style: { left: at(row.stretch) }, title: t("stretch") }));
  if (num(row.expected) !== null && row.unit !== "ratio" && num(row.expected) !== num(row.target)) {
    marks.push(h("i", { class: "mark-expected", style: { left: at(row.expected) }, title: t("expected"), dataset: { value: row.expected } }));
  }
  return h("div", { class: "bar", role: "img", "aria-label": `${t("actual")} ${fmt(row.actual, row.unit, row.currency)}` },
    h("div", { class: `fill st-${row.status}`, style: { width: at(row.actual ?? 0) } }), marks);
}

// A catalog text with {name} placeholders filled in.
export function fill(text, params) {
  return Object.entries(params).reduce((out, [k, v]) => out.replaceAll(`{${k}}`, v), text);
}

// "含调整 ¥X (N 笔)" on a row whose actual includes adjustments from closed months.
function adjustedMark(r, onAdjust) {
  if (r.adjusted === null || r.adjusted === undefined) return null;
  const text = fill(t("adj.mark"), { amount: fmt(r.adjusted, r.unit, r.currency), count: fmt(r.adjustments, "count") });
  return h("div", { class: "adj" },
    h("button", { type: "button", class: "adj-mark", title: t("adj.hint"), dataset: { field: "adjusted", value: r.adjusted, count: r.adjustments },
      onclick: (e) => { e.stopPropagation(); onAdjust?.(r.kpi); }, onkeydown: (e) => e.stopPropagation() }, text));
}

function progressRows(env, data, onPick, onAdjust = null) {
  if (!data.rows.length) return message(t("no_rows"));
  return h("div", { class: "kpi-rows" }, data.rows.map((r) => {
    const info = kpiInfo(env, r.kpi);
    const u = r.unit;
    const c = r.currency;
    return h("article", {
      class: `kpi-row st-${r.status}`, dataset: { kpi: r.kpi, status: r.status }, tabindex: 0,
      onclick: () => onPick(r.kpi), onkeydown: (e) => { if (e.key === "Enter") onPick(r.kpi); },
    },
    h("div", { class: "kpi-head" },
      h("span", { class: "kpi-name" }, pick(r.names, r.kpi), h("small", {}, t(`cat.${info.category}`))),
      chip("status", r.status)),
    h("div", { class: "kpi-values" }, value("actual", r.actual, u, c), h("span", { class: "sep" }, " / "), value("target", r.target, u, c)),
    bar(r),
    h("dl", { class: "kpi-meta" },
      h("div", {}, h("dt", {}, t("expected")), h("dd", {}, value("expected", r.expected, u, c))),
      h("div", {}, h("dt", { title: t("pace.hint") }, t("pace")), h("dd", {}, h("span", { class: "v v-pace", dataset: { field: "pace", value: r.pace ?? "" } }, pct(r.pace)))),
      h("div", {}, h("dt", {}, t("baseline")), h("dd", {}, value("baseline", r.baseline, u, c))),
      h("div", {}, h("dt", {}, t("stretch")), h("dd", {}, value("stretch", r.stretch, u, c))),
      info.cumulative ? h("div", {}, h("dt", {}, t("projection")), h("dd", {}, value("projection", r.projection_seasonal ?? r.projection_linear, u, c))) : null,
      adjustedMark(r, onAdjust)));
  }));
}

// -- month close (月结): the period's state, close and reopen, the adjustments ----------------

// The months (YYYY-MM) a period touches, from its start and exclusive end.
function monthsOf(period) {
  const out = [];
  let [y, m] = period.start.split("-").map(Number);
  for (;;) {
    const key = `${y}-${String(m).padStart(2, "0")}`;
    if (`${key}-01` >= period.end) break;
    out.push(key);
    [y, m] = m === 12 ? [y + 1, 1] : [y, m + 1];
  }
  return out;
}

// A small form behind a <details>: the view holds still (no live redraw) while it is open.
function closeForm(env, { label, submit, placeholder, required, send }) {
  const input = h("input", { type: "text", name: "reason", maxlength: 2000, placeholder, "aria-label": placeholder, required });
  const button = h("button", { type: "submit" }, submit);
  const form = h("form", { class: "close-form", onsubmit: async (e) => {
    e.preventDefault();
    button.disabled = true;
    try {
      await send(input.value.trim());
      await env.refresh();
    } catch (err) { button.disabled = false; env.fail(err); }
  } }, input, button);
  return h("details", { class: "close-action", ontoggle: (e) => env.setBusy(e.target.open) }, h("summary", {}, label), form);
}

// Next to the period picker: 已月结 / Closed (who, when, why) and, for an admin key, close
// the month once it has ended or reopen it with a reason.
function closeState(env, period, closes) {
  const months = monthsOf(period);
  const closed = closes.closed.filter((m) => months.includes(m));
  const recordOf = (m) => closes.closes.find((c) => c.period === m && c.status === "closed");
  const detail = closed.map((m) => {
    const c = recordOf(m);
    if (!c) return m;
    const line = fill(t("closing.closed_detail"), { period: m, at: when(c.closed_at), by: c.closed_by });
    return c.reason ? `${line} · ${t("closing.reason")}: ${c.reason}` : line;
  });
  const items = [];
  if (closed.length) {
    const label = period.kind === "month" ? t("closing.closed") : `${t("closing.closed")} ${closed.join(", ")}`;
    items.push(h("span", { class: "chip closing-closed", dataset: { closed: closed.join(","), policy: closes.policy },
      title: [...detail, t(`closing.policy.${closes.policy}`)].join("\n") }, label));
    if (period.kind === "month" && recordOf(period.key)) {
      const c = recordOf(period.key);
      items.push(h("small", { class: "close-detail" }, `${when(c.closed_at)} · ${c.closed_by}`));
    }
  }
  if (env.ctx.scopes.includes("admin") && period.kind === "month") {
    const path = `/v1/closes/${encodeURIComponent(period.key)}/reopen`;
    if (closed.includes(period.key)) {
      items.push(closeForm(env, { label: t("closing.reopen"), submit: t("closing.reopen_submit"), placeholder: t("closing.reason_required"), required: true,
        send: (reason) => api(path, { method: "POST", body: { reason } }) }));
    } else if (env.ctx.periods.today >= period.end) {
      items.push(closeForm(env, { label: t("closing.do"), submit: t("closing.submit"), placeholder: t("closing.reason_optional"), required: false,
        send: (reason) => api("/v1/closes", { method: "POST", body: { period: period.key, reason } }) }));
    }
  }
  return items.length ? h("div", { class: "close-state", dataset: { period: period.key, closed: closed.join(",") } }, items) : null;
}

// The adjustments behind a row's "incl. adjustments" mark: cause, value, when known.
async function adjustmentsPanel(env, { kpi, scope, period }) {
  const info = kpiInfo(env, kpi);
  const cur = env.ctx.currency;
  const list = await api("/v1/dashboard/adjustments", { params: { kpi, scope, period } });
  const rows = list.items.map((a) => h("tr", { dataset: { adjustment: a.id, record: a.record_id } },
    h("td", {}, when(a.known_at)),
    h("td", {}, a.record_type, " ", h("span", { class: "mono" }, a.record_id)),
    h("td", { class: "hide-sm" }, h("span", { class: "mono" }, a.event_id ?? "–"), a.source ? h("small", {}, a.source) : null),
    h("td", {}, a.source_day, h("small", {}, a.source_period)),
    h("td", { class: "hide-sm" }, a.booked_day ?? "–"),
    h("td", { class: "hide-sm" }, repName(env, a.rep_id)),
    h("td", { class: "num" }, value("adj-amount", a.amount, info.unit, cur))));
  return h("section", { class: "card adj-list", dataset: { kpi, count: list.count, total: list.total ?? "" } },
    h("div", { class: "card-head" },
      h("h2", {}, `${kpiName(env, kpi)} · ${t("adj.title")}`),
      h("button", { type: "button", class: "link", onclick: (e) => { env.setBusy(false); e.target.closest(".adj-list").remove(); } }, t("close"))),
    h("p", { class: "drill-summary" }, `${t("adj.hint")} · ${t("adj.total")} `, value("adj-total", list.total, info.unit, cur),
      ` (${fmt(list.count, "count")})`, list.items.length < list.count ? ` · ${fill(t("adj.shown"), { n: list.items.length })}` : null),
    list.items.length
      ? table([t("adj.known_at"), t("record"), t("adj.event"), t("adj.source_day"), t("adj.booked_day"), t("rep"), t("adj.value")], rows, { class: "adj-table" })
      : message(t("adj.none")));
}

function adjustmentsOpener(env, host, scope, period) {
  return async (kpi) => {
    env.setBusy(true);
    host.replaceChildren(message(t("loading"), "loading"));
    try {
      host.replaceChildren(await adjustmentsPanel(env, { kpi, scope, period }));
      host.scrollIntoView({ block: "nearest" });
    } catch (err) { host.replaceChildren(); env.setBusy(false); env.fail(err); }
  };
}

async function seriesCard(env, kpi, scope, period, onPick, keys = null) {
  if (!kpi) return null;
  const s = await api("/v1/dashboard/series", { params: { kpi, scope, period } });
  const canvas = h("canvas", { "aria-label": pick(s.names, kpi) });
  const last = s.through_day ? s.days.indexOf(s.through_day) : -1;
  let lastActual = null;
  for (let i = last; i >= 0; i -= 1) if (s.actual[i] !== null) { lastActual = s.actual[i]; break; }
  env.afterMount(() => env.charts.push(seriesChart(canvas, s)));
  return h("section", { class: "card series", dataset: { kpi, scope, period } },
    h("div", { class: "card-head" }, h("h2", {}, `${pick(s.names, kpi)} · ${t(s.cumulative ? "cumulative" : "running")}`),
      kpiSelect(env, kpi, onPick, { keys })),
    h("div", { class: "chart" }, canvas),
    h("p", { class: "chart-summary" },
      `${t("as_of")} ${s.through_day ?? "–"} · ${t("actual")} `, value("series-actual", lastActual, s.unit, s.currency),
      s.cumulative && last >= 0 ? [` · ${t("expected")} `, value("series-expected", s.expected[last], s.unit, s.currency)] : null,
      ` · ${t("target")} `, value("series-target", s.target, s.unit, s.currency)));
}

// -- overview: company and teams ---------------------------------------------------------

export async function overview(env) {
  const p = env.params;
  const scope = p.scope || "company";
  const period = p.period || env.ctx.periods.focus_month || env.ctx.periods.month[0];
  const [data, closes] = await Promise.all([
    api("/v1/dashboard/overview", { params: { scope, period } }),
    api("/v1/closes"),
  ]);
  const keys = data.rows.map((r) => r.kpi);
  const chartKpi = keys.includes(p.kpi) ? p.kpi : keys[0];
  const pickKpi = (kpi) => env.go("overview", { ...p, scope, period, kpi });
  const adjHost = h("div", { class: "adj-host" });
  return h("section", { class: "view view-overview", dataset: { asOf: data.as_of, scope, period } },
    h("h1", {}, `${scopeLabel(env, scope)} · ${period}`),
    controls(
      scopeSelect(env, scope, (v) => env.go("overview", { ...p, scope: v })),
      periodSelect(env, period, (v) => env.go("overview", { ...p, period: v })),
      closeState(env, data.period, closes)),
    h("section", { class: "card" }, progressRows(env, data, pickKpi, adjustmentsOpener(env, adjHost, scope, period))),
    adjHost,
    await seriesCard(env, chartKpi, scope, period, pickKpi, keys.length ? keys : null));
}

// -- rep: scorecard, progress, drill-down ------------------------------------------------

async function drillPanel(env, { kpi, scope, start, through }) {
  const info = kpiInfo(env, kpi);
  const records = [];
  let cursor = null;
  do {
    const page = await api("/v1/facts/records", { params: { kpi, scope, from: start, to: through, cursor, limit: 500 } });
    records.push(...page.records);
    cursor = page.next_cursor;
  } while (cursor && records.length < 2000);
  const additive = info.cumulative && info.unit !== "ratio";
  let total = 0;
  const members = new Set();
  const rows = records.map((r) => {
    const shares = r.shares.filter((x) => x.measure === 0);
    const sum = shares.reduce((acc, x) => acc + (num(x.value) ?? 0), 0);
    shares.forEach((x) => x.member && members.add(x.member));
    total += sum;
    const ev = r.event || {};
    return h("tr", { dataset: { record: r.record_id } },
      h("td", {}, shares.map((x) => x.day).filter((d, i, a) => a.indexOf(d) === i).join(", ")),
      h("td", {}, r.type), h("td", { class: "mono" }, r.record_id),
      h("td", {}, [ev.stage, ev.status, ev.customer_id].filter(Boolean).join(" · ")),
      h("td", { class: "num" }, shares.some((x) => x.member) ? shares.map((x) => x.member).filter(Boolean).join(", ") : fmt(sum, info.unit, env.ctx.currency)),
      h("td", {}, r.source ?? ""));
  });
  const shownTotal = additive ? (members.size ? members.size : total) : null;
  return h("section", { class: "card drill", dataset: { kpi, records: records.length, total: shownTotal ?? "" } },
    h("div", { class: "card-head" },
      h("h2", {}, `${kpiName(env, kpi)} · ${t("drill.title")}`),
      h("button", { type: "button", class: "link", onclick: (e) => { env.setBusy(false); e.target.closest(".drill").remove(); } }, t("close"))),
    h("p", { class: "drill-summary" }, `${records.length} ${t("drill.records")} · ${start} – ${through}`,
      shownTotal !== null ? [` · ${t("drill.total")} `, value("drill-total", String(shownTotal), members.size ? "count" : info.unit, env.ctx.currency)] : null),
    records.length
      ? table([t("day"), t("type"), t("record"), "", t("share"), t("source")], rows, { class: "drill-table" })
      : message(t("drill.none")));
}

export async function rep(env) {
  const p = env.params;
  const repId = p.rep || env.ctx.reps[0]?.id;
  const period = p.period || env.ctx.periods.focus_month || env.ctx.periods.month[0];
  if (!repId) return message(t("no_rows"));
  const scope = `rep:${repId}`;
  const card = await api("/v1/scorecards", { params: { scope, period } });
  const keys = card.items.map((i) => i.kpi);
  const [progress, closes] = await Promise.all([
    api("/v1/dashboard/overview", { params: { scope, period, kpis: keys.join(",") } }),
    api("/v1/closes"),
  ]);
  const start = progress.period.start;
  const through = progress.rows.find((r) => r.through_day)?.through_day
    || new Date(new Date(progress.period.end).getTime() - 86400000).toISOString().slice(0, 10);
  const person = env.ctx.reps.find((r) => r.id === repId);
  const drillHost = h("div", { class: "drill-host" });
  const openDrill = async (kpi) => {
    env.setBusy(true);
    drillHost.replaceChildren(message(t("loading"), "loading"));
    drillHost.replaceChildren(await drillPanel(env, { kpi, scope, start, through }));
    drillHost.scrollIntoView({ block: "nearest" });
  };
  const chartKpi = keys.includes(p.kpi) ? p.kpi : keys[0];
  const pickKpi = (kpi) => env.go("rep", { ...p, rep: repId, period, kpi });
  const repOptions = [];
  for (const [team] of teamTree(env)) {
    for (const r of env.ctx.reps.filter((x) => x.team_id === team.id)) repOptions.push([r.id, `${r.name} · ${team.name}`]);
  }
  for (const r of env.ctx.reps.filter((x) => !x.team_id)) repOptions.push([r.id, r.name]);
  const rows = card.items.map((i) => h("tr", { dataset: { kpi: i.kpi, status: i.status } },
    h("td", {}, pick(i.names, i.kpi), h("small", {}, t(`cat.${i.category}`))),
    h("td", { class: "num" }, `${num(i.weight)}%`),
    h("td", { class: "num" }, h("button", { type: "button", class: "drill-btn", title: t("drill"), onclick: () => openDrill(i.kpi) },
      value("actual", i.actual, i.unit, env.ctx.currency))),
    h("td", { class: "num" }, value("target", i.target, i.unit, env.ctx.currency)),
    h("td", { class: "num hide-sm" }, value("baseline", i.baseline, i.unit, env.ctx.currency)),
    h("td", { class: "num hide-sm" }, value("stretch", i.stretch, i.unit, env.ctx.currency)),
    h("td", { class: "num" }, h("span", { class: "v v-attainment", dataset: { field: "attainment", value: i.attainment ?? "" } }, pct(i.attainment))),
    h("td", {}, i.tier ? chip("tier", i.tier) : h("span", { class: "muted" }, t(`status.${i.status === "scored" ? "no_target" : i.status}`)))));
  return h("section", { class: "view view-rep", dataset: { asOf: card.as_of, rep: repId, period } },
    h("h1", {}, `${person?.name ?? repId} · ${period}`),
    controls(
      field(t("rep"), select(repOptions, repId, (v) => env.go("rep", { ...p, rep: v }), { name: "rep" })),
      periodSelect(env, period, (v) => env.go("rep", { ...p, rep: repId, period: v })),
      closeState(env, progress.period, closes)),
    h("section", { class: "card scorecard", dataset: { scope: card.scope } },
      h("div", { class: "card-head" },
        h("h2", {}, `${t("scorecard")} · ${pick(card.template_names, card.template)}`),
        h("div", { class: "score" },
          h("span", { class: "v v-score", dataset: { field: "score", value: card.score ?? "" } }, card.score === null ? "–" : fmt(card.score, "score")),
          card.tier ? chip("tier", card.tier) : null,
          h("small", {}, `${t("coverage")} ${pct(card.coverage)}`))),
      table([t("kpi"), t("weight"), t("actual"), t("target"), t("baseline"), t("stretch"), t("attainment"), t("tier")], rows, { class: "scorecard-table" })),
    drillHost,
    h("section", { class: "card" }, h("h2", {}, t("progress")), progressRows(env, progress, pickKpi, adjustmentsOpener(env, drillHost, scope, period))),
    await seriesCard(env, chartKpi, scope, period, pickKpi, keys));
}

// -- leaderboard -------------------------------------------------------------------------

export async function leaderboard(env) {
  const p = env.params;
  const team = p.team || rootTeams(env)[0]?.id;
  const period = p.period || env.ctx.periods.focus_month || env.ctx.periods.month[0];
  if (!team) return message(t("no_rows"));
  const board = await api("/v1/leaderboard", { params: { team, period, kpi: p.kpi } });
  const byKpi = Boolean(board.kpi);
  const unit = byKpi ? kpiInfo(env, board.kpi).unit : "score";
  const top = Math.max(...board.rows.map((r) => num(byKpi ? r.kpi_actual : r.score) ?? 0), 1);
  const rows = board.rows.map((r) => {
    const shown = byKpi ? r.kpi_actual : r.score;
    const person = env.ctx.reps.find((x) => x.id === r.rep_id);
    return h("tr", { dataset: { rep: r.rep_id, rank: r.rank } },
      h("td", { class: "num" }, String(r.rank)),
      h("td", {}, h("a", { href: env.href("rep", { rep: r.rep_id, period }) }, r.name || r.rep_id)),
      h("td", { class: "hide-sm" }, person?.team_id ? teamName(env, person.team_id) : ""),
      h("td", { class: "num" }, h("div", { class: "mini-bar" }, h("i", { style: { width: `${((num(shown) ?? 0) / top) * 100}%` } })),
        byKpi ? value("kpi-actual", r.kpi_actual, unit, env.ctx.currency) : h("span", { class: "v v-score", dataset: { field: "score", value: r.score ?? "" } }, r.score === null ? "–" : fmt(r.score, "score"))),
      h("td", {}, r.tier ? chip("tier", r.tier) : ""),
      h("td", { class: "num hide-sm" }, byKpi ? pct(r.kpi_attainment) : pct(r.coverage)));
  });
  return h("section", { class: "view view-leaderboard", dataset: { asOf: board.as_of, team, period } },
    h("h1", {}, `${t("nav.leaderboard")} · ${teamName(env, team)} · ${period}`),
    controls(
      teamSelect(env, team, (v) => env.go("leaderboard", { ...p, team: v })),
      periodSelect(env, period, (v) => env.go("leaderboard", { ...p, team, period: v })),
      field(t("rank_by"), select([["", t("score")], ...env.ctx.kpis.map((k) => [k.key, pick(k.names, k.key)])], p.kpi || "",
        (v) => env.go("leaderboard", { ...p, team, period, kpi: v }), { name: "kpi" }))),
    h("section", { class: "card" }, board.rows.length
      ? table([t("rank"), t("name"), t("team"), byKpi ? kpiName(env, board.kpi) : t("score"), t("tier"), byKpi ? t("attainment") : t("coverage")], rows, { class: "leaderboard-table" })
      : message(t("no_rows"))));
}

// -- alerts ------------------------------------------------------------------------------

export async function alerts(env) {
  const p = env.params;
  if (!env.ctx.features.alerts) return h("section", { class: "view view-alerts" }, h("h1", {}, t("nav.alerts")), message(t("alerts.missing")));
  const status = p.status || "open";
  const page = await api("/v1/alerts", { params: { status: status === "all" ? null : status, kind: p.kind, limit: 200 } });
  const items = page.items || [];
  const canAck = env.ctx.features.alert_acknowledge;
  const cards = items.map((a) => h("article", { class: `alert sev-${a.severity} al-${a.status}`, dataset: { alert: a.id, status: a.status } },
    h("div", { class: "alert-head" },
      chip("sev", a.severity), h("span", { class: "alert-kind" }, t(`kind.${a.kind}`), " · ", a.type),
      h("span", { class: "alert-status" }, t(`alert.${a.status}`))),
    h("p", { class: "alert-title" }, a.title),
    h("p", { class: "alert-meta" }, scopeLink(env, a.scope),
      ` · ${t("first_seen")} ${when(a.first_seen_at)} · ${t("last_seen")} ${when(a.last_seen_at)} · ${t("occurrences")} ${a.occurrences}`,
      a.acknowledged_by ? ` · ${t("acknowledged_by")} ${a.acknowledged_by}` : ""),
    a.status === "open" && canAck
      ? h("button", { type: "button", class: "ack", onclick: async (e) => {
        e.target.disabled = true;
        try {
          await api(`/v1/alerts/${a.id}/acknowledge`, { method: "POST", body: { note: "acknowledged on the dashboard" } });
          await env.refresh();
        } catch (err) { e.target.disabled = false; env.fail(err); }
      } }, t("acknowledge"))
      : null));
  const statuses = [["open", t("alert.open")], ["acknowledged", t("alert.acknowledged")], ["resolved", t("alert.resolved")], ["all", t("all")]];
  const kinds = [["", t("all")], ...["lag", "anomaly", "data_quality", "system"].map((k) => [k, t(`kind.${k}`)])];
  return h("section", { class: "view view-alerts", dataset: { count: items.length, status } },
    h("h1", {}, `${t("nav.alerts")} · ${items.length}`),
    controls(
      field(t("status"), select(statuses, status, (v) => env.go("alerts", { ...p, status: v }), { name: "status" })),
      field(t("type"), select(kinds, p.kind || "", (v) => env.go("alerts", { ...p, kind: v }), { name: "kind" }))),
    items.length ? h("div", { class: "alerts" }, cards) : message(t("alerts.none")));
}

// -- targets: the plan and its versions ----------------------------------------------------

// A parent whose children do not add up (plan_mismatch findings): the mark, and its text
// from the catalog with the finding's parameters.
function mismatchesOf(x) {
  return (x.findings || []).filter((f) => f.code === "plan_mismatch");
}

function mismatchText(env, x, f) {
  const u = kpiInfo(env, x.kpi).unit;
  const p = f.params;
  const split = t(p.split === "org" ? "split.org" : `split.${p.children_period_kind}`);
  return t("mismatch.detail").replace("{children}", p.children).replace("{split}", split)
    .replace("{sum}", fmt(p.children_sum, u, env.ctx.currency))
    .replace("{parent}", fmt(p.parent_value, u, env.ctx.currency))
    .replace("{diff}", fmt(p.difference, u, env.ctx.currency));
}

function mismatchMark(env, x) {
  const found = mismatchesOf(x);
  if (!found.length) return null;
  return h("span", { class: "chip finding-plan_mismatch", dataset: { finding: "plan_mismatch", difference: found[0].params.difference },
    title: found.map((f) => mismatchText(env, x, f)).join("\n") }, t("finding.plan_mismatch"));
}

export async function targets(env) {
  const p = env.params;
  const period = p.period || env.ctx.periods.year[0];
  const scope = p.scope || "company";
  const list = await api("/v1/targets", { params: { period, scope, kpi: p.kpi, limit: 200 } });
  const targetRow = (x) => {
    const u = kpiInfo(env, x.kpi).unit;
    const off = mismatchesOf(x).length;
    return h("tr", { dataset: { target: x.id, mismatch: off }, class: [String(x.id) === p.id ? "selected" : "", off ? "mismatch" : ""].join(" ").trim() },
      h("td", {}, h("a", { href: env.href("targets", { ...p, period, scope, id: x.id }) }, kpiName(env, x.kpi)), " ", mismatchMark(env, x)),
      h("td", {}, scopeLabel(env, x.scope)), h("td", {}, x.period),
      h("td", { class: "num" }, value("target", x.target, u, env.ctx.currency)),
      h("td", { class: "num hide-sm" }, value("baseline", x.baseline, u, env.ctx.currency)),
      h("td", { class: "num hide-sm" }, value("stretch", x.stretch, u, env.ctx.currency)),
      h("td", { class: "num" }, h("span", { class: "v v-version", dataset: { field: "version", value: x.version } }, `v${x.version}`)),
      h("td", { class: "hide-sm" }, x.acknowledged ? t("yes") : t("no")));
  };
  const headers = [t("kpi"), t("scope"), t("period"), t("target"), t("baseline"), t("stretch"), t("version"), t("acknowledged")];
  let detail = null;
  if (p.id) {
    const one = await api(`/v1/targets/${encodeURIComponent(p.id)}`);
    const children = await api("/v1/targets", { params: { parent_id: one.id, limit: 200 } });
    const u = kpiInfo(env, one.kpi).unit;
    const versions = one.versions.map((v) => h("tr", { dataset: { version: v.version } },
      h("td", { class: "num" }, `v${v.version}`),
      h("td", { class: "num" }, value("target", v.target, u, env.ctx.currency)),
      h("td", { class: "num" }, value("baseline", v.baseline, u, env.ctx.currency)),
      h("td", { class: "num" }, value("stretch", v.stretch, u, env.ctx.currency)),
      h("td", {}, when(v.recorded_at)), h("td", {}, v.author), h("td", { class: "reason" }, v.reason)));
    detail = h("section", { class: "card target-detail", dataset: { target: one.id, versions: one.versions.length } },
      h("div", { class: "card-head" }, h("h2", {}, `${kpiName(env, one.kpi)} · ${scopeLabel(env, one.scope)} · ${one.period}`),
        one.parent_id ? h("a", { href: env.href("targets", { ...p, id: one.parent_id }) }, `↑ ${t("parent")}`) : null),
      mismatchesOf(one).length ? h("ul", { class: "findings plan-mismatch" }, mismatchesOf(one).map((f) =>
        h("li", { dataset: { finding: "plan_mismatch", split: f.params.split, difference: f.params.difference } },
          h("strong", {}, t("finding.plan_mismatch")), ` · ${mismatchText(env, one, f)}`))) : null,
      h("h3", {}, t("versions")),
      table([t("version"), t("target"), t("baseline"), t("stretch"), t("recorded_at"), t("author"), t("reason")], versions, { class: "versions-table" }),
      children.length ? [h("h3", {}, `${t("children")} (${children.length})`), table(headers, children.map(targetRow), { class: "children-table" })] : null);
  }
  const scopes = [["company", t("company")], ...teamTree(env).map(([x, d]) => [`team:${x.id}`, `${"\u00a0\u00a0".repeat(d)}${x.name}`]), ...env.ctx.reps.map((r) => [`rep:${r.id}`, r.name])];
  return h("section", { class: "view view-targets", dataset: { count: list.length, period, scope } },
    h("h1", {}, `${t("nav.targets")} · ${scopeLabel(env, scope)} · ${period}`),
    controls(
      field(t("scope"), select(scopes, scope, (v) => env.go("targets", { period, kpi: p.kpi, scope: v }), { name: "scope" })),
      periodSelect(env, period, (v) => env.go("targets", { scope, kpi: p.kpi, period: v }), ["year", "quarter", "month", "week"]),
      kpiSelect(env, p.kpi, (v) => env.go("targets", { scope, period, kpi: v }), { blank: t("all") })),
    detail,
    h("section", { class: "card" }, list.length ? table(headers, list.map(targetRow), { class: "targets-table" }) : message(t("targets.none"))));
}

// -- review (复盘) -------------------------------------------------------------------------

export async function review(env) {
  const p = env.params;
  if (!env.ctx.features.reviews) return h("section", { class: "view view-review" }, h("h1", {}, t("nav.review")), message(t("review.missing")));
  const team = p.team || rootTeams(env)[0]?.id;
  const period = p.period || env.ctx.periods.month[1] || env.ctx.periods.month[0];
  if (!team) return message(t("no_rows"));
  const rv = await api("/v1/reviews", { params: { team, period } });
  const kpis = rv.kpis.map((k) => k.kpi);
  const distCanvas = h("canvas", { "aria-label": t("review.distribution") });
  const dist = kpis.map((k) => rv.distribution.find((d) => d.kpi === k) || { kpi: k, buckets: {} });
  env.afterMount(() => env.charts.push(distributionChart(distCanvas, dist, rv.kpis.map((k) => pick(k.names, k.kpi)))));
  const scopes = [...new Set(rv.rows.map((r) => r.scope))];
  const cell = (scope, kpi) => {
    const r = rv.rows.find((x) => x.scope === scope && x.kpi === kpi);
    if (!r) return h("td", {}, "");
    return h("td", { class: `num tier-cell ${r.tier ? `tier-${r.tier}` : ""}`, dataset: { scope, kpi, value: r.attainment ?? "" }, title: `${fmt(r.actual, kpiInfo(env, kpi).unit, env.ctx.currency)} / ${fmt(r.target, kpiInfo(env, kpi).unit, env.ctx.currency)}` },
      r.attainment === null ? "–" : pct(r.attainment));
  };
  const matrix = scopes.map((s) => h("tr", { dataset: { scope: s } }, h("th", {}, scopeLink(env, s)), kpis.map((k) => cell(s, k))));
  const findings = rv.findings.map((f) => h("li", { dataset: { kpi: f.kpi, finding: f.finding } }, h("strong", {}, kpiName(env, f.kpi)), ` · ${f.message}`));
  const own = `team:${team}`;
  const missCard = (m) => {
    const canvas = h("canvas");
    const unit = kpiInfo(env, m.kpi).unit;
    env.afterMount(() => env.charts.push(driversChart(canvas, m, unit, env.ctx.currency)));
    return h("div", { class: "miss", dataset: { scope: m.scope, kpi: m.kpi } },
      h("h3", {}, `${scopeLabel(env, m.scope)} · ${kpiName(env, m.kpi)} · ${t("gap")} `, value("gap", m.gap, unit, env.ctx.currency)),
      h("p", { class: "muted" }, m.formula),
      h("div", { class: "chart chart-small" }, canvas));
  };
  const teamMisses = rv.misses.filter((m) => m.scope === own);
  const repMisses = rv.misses.filter((m) => m.scope !== own);
  const moreMisses = repMisses.length
    ? h("details", { class: "more-misses" }, h("summary", {}, `${t("members")} (${repMisses.length})`),
      h("div", { class: "misses" }, repMisses.map(missCard)))
    : null;
  const suggestionRow = (s) => {
    const unit = kpiInfo(env, s.kpi).unit;
    return h("tr", { dataset: { scope: s.scope, kpi: s.kpi } },
      h("td", {}, scopeLabel(env, s.scope)), h("td", {}, kpiName(env, s.kpi)), h("td", {}, s.period),
      h("td", { class: "num" }, value("baseline", s.baseline, unit, env.ctx.currency)),
      h("td", { class: "num" }, value("target", s.target, unit, env.ctx.currency)),
      h("td", { class: "num" }, value("stretch", s.stretch, unit, env.ctx.currency)),
      h("td", { class: "reason" }, (s.steps || []).join(" ")));
  };
  const suggestionHead = [t("scope"), t("kpi"), t("period"), t("baseline"), t("target"), t("stretch"), t("reason")];
  const teamSuggestions = rv.suggestions.filter((s) => s.scope === own);
  const repSuggestions = rv.suggestions.filter((s) => s.scope !== own);
  const suggestions = [
    teamSuggestions.length ? table(suggestionHead, teamSuggestions.map(suggestionRow), { class: "suggestions-table" }) : null,
    repSuggestions.length ? h("details", {}, h("summary", {}, `${t("members")} (${repSuggestions.length})`),
      table(suggestionHead, repSuggestions.map(suggestionRow), { class: "suggestions-table" })) : null,
  ];
  return h("section", { class: "view view-review", dataset: { asOf: rv.as_of, team, period } },
    h("h1", {}, `${t("nav.review")} · ${teamName(env, team)} · ${period}`),
    controls(
      teamSelect(env, team, (v) => env.go("review", { ...p, team: v })),
      periodSelect(env, period, (v) => env.go("review", { ...p, team, period: v }), ["month", "quarter", "year", "week"])),
    h("section", { class: "card" }, h("h2", {}, t("review.distribution")), h("div", { class: "chart" }, distCanvas)),
    h("section", { class: "card" }, h("h2", {}, t("review.findings")), findings.length ? h("ul", { class: "findings" }, findings) : message(t("review.none"))),
    h("section", { class: "card" }, h("h2", {}, t("review.table")),
      table(["", ...rv.kpis.map((k) => pick(k.names, k.kpi))], matrix, { class: "review-table" })),
    rv.misses.length ? h("section", { class: "card" }, h("h2", {}, t("review.misses")), h("div", { class: "misses" }, teamMisses.map(missCard)), moreMisses) : null,
    rv.suggestions.length ? h("section", { class: "card" }, h("h2", {}, t("review.suggestions")), suggestions) : null);
}

export const VIEWS = { overview, rep, leaderboard, alerts, targets, review };
