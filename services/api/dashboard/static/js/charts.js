// Charts with Chart.js (vendor/chart.umd.min.js, loaded before the modules as window.Chart).
import { t } from "./i18n.js";
import { fmt, num } from "./format.js";

const COLORS = {
  actual: "#2563eb", expected: "#f59e0b", target: "#16a34a", baseline: "#9ca3af", stretch: "#7c3aed",
};

export function chartLib() {
  return window.Chart || null;
}

function base(unit, currency) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "index", intersect: false },
    plugins: {
      legend: { position: "bottom", labels: { boxWidth: 12 } },
      tooltip: {
        callbacks: { label: (c) => `${c.dataset.label}: ${fmt(c.parsed.y, unit, currency)}` },
      },
    },
    scales: {
      y: { beginAtZero: true, ticks: { callback: (v) => fmt(v, unit, currency) } },
      x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 10 } },
    },
  };
}

// The KPI over the period: actual so far, expected curve, target, baseline and stretch.
export function seriesChart(canvas, series) {
  const Chart = chartLib();
  if (!Chart) return null;
  const flat = (value) => series.days.map(() => num(value));
  const datasets = [
    {
      label: t("chart.actual"), data: series.actual.map(num), borderColor: COLORS.actual,
      backgroundColor: "rgba(37,99,235,0.12)", fill: series.cumulative, pointRadius: 0,
      spanGaps: true, borderWidth: 2,
    },
  ];
  if (series.target !== null) {
    if (series.cumulative) {
      datasets.push({
        label: t("chart.expected"), data: series.expected.map(num), borderColor: COLORS.expected,
        borderDash: [6, 4], pointRadius: 0, borderWidth: 2,
      });
    }
    datasets.push({ label: t("chart.target"), data: flat(series.target), borderColor: COLORS.target, pointRadius: 0, borderWidth: 1.5 });
    if (series.baseline !== null) datasets.push({ label: t("chart.baseline"), data: flat(series.baseline), borderColor: COLORS.baseline, borderDash: [2, 3], pointRadius: 0, borderWidth: 1 });
    if (series.stretch !== null) datasets.push({ label: t("chart.stretch"), data: flat(series.stretch), borderColor: COLORS.stretch, borderDash: [2, 3], pointRadius: 0, borderWidth: 1 });
  }
  return new Chart(canvas, {
    type: "line",
    data: { labels: series.days.map((d) => d.slice(5)), datasets },
    options: base(series.unit, series.currency),
  });
}

// Stacked bars: per KPI, reps in each attainment band.
export function distributionChart(canvas, rows, labels) {
  const Chart = chartLib();
  if (!Chart) return null;
  const bands = ["<80%", "80-100%", "100-120%", ">=120%"];
  const palette = ["#dc2626", "#f59e0b", "#16a34a", "#7c3aed"];
  return new Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: bands.map((b, i) => ({
        label: t(`bucket.${b}`), data: rows.map((r) => r.buckets?.[b] ?? 0), backgroundColor: palette[i],
      })),
    },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

// Horizontal bars: a miss split into its drivers' effects.
export function driversChart(canvas, miss, unit, currency) {
  const Chart = chartLib();
  if (!Chart) return null;
  return new Chart(canvas, {
    type: "bar",
    data: {
      labels: miss.drivers.map((d) => d.driver),
      datasets: [{
        label: t("effect"), data: miss.drivers.map((d) => num(d.effect)),
        backgroundColor: miss.drivers.map((d) => (num(d.effect) < 0 ? "#dc2626" : "#16a34a")),
      }],
    },
    options: {
      indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { display: false } },
      scales: { x: { ticks: { callback: (v) => fmt(v, unit, currency) } } },
    },
  });
}
