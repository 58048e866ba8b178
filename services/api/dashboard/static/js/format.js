// Number formatting by unit, in the current language.
import { lang } from "./i18n.js";

const SUFFIX = { days: { "zh-CN": " 天", en: " d" }, hours: { "zh-CN": " 小时", en: " h" } };

export function num(value) {
  if (value === null || value === undefined || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function grouped(n, digits) {
  return new Intl.NumberFormat(lang(), {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(n);
}

// How many decimals a unit is shown with (the tests read the same rule).
export function digitsFor(unit) {
  if (unit === "currency" || unit === "count") return 0;
  if (unit === "ratio") return 1; // as a percentage
  return 2;
}

// Exact half-up rounding of a decimal string times 10^shift (the API's decimals are exact;
// a float would turn 0.2875 x 100 into 28.749999... and show 28.7).
export function roundDecimal(text, digits, shift = 0) {
  let s = String(text).trim();
  if (!/^-?\d+(\.\d+)?$/.test(s)) return null;
  const negative = s.startsWith("-");
  if (negative) s = s.slice(1);
  const [intPart, fracPart = ""] = s.split(".");
  const frac = fracPart.padEnd(shift + digits + 1, "0");
  const whole = BigInt(intPart + frac.slice(0, shift + digits));
  const rounded = whole + (frac.charAt(shift + digits) >= "5" ? 1n : 0n);
  const body = rounded.toString().padStart(digits + 1, "0");
  const out = digits ? `${body.slice(0, -digits)}.${body.slice(-digits)}` : body;
  return negative && rounded !== 0n ? `-${out}` : out;
}

function scaled(value, unit) {
  const digits = digitsFor(unit);
  const shift = unit === "ratio" ? 2 : 0;
  const exact = typeof value === "string" ? roundDecimal(value, digits, shift) : null;
  return exact !== null ? Number(exact) : num(value) * 10 ** shift;
}

export function fmt(value, unit, currency) {
  if (num(value) === null) return "–";
  const n = scaled(value, unit);
  switch (unit) {
    case "currency":
      return new Intl.NumberFormat(lang(), {
        style: "currency",
        currency: currency || "CNY",
        currencyDisplay: "narrowSymbol",
        minimumFractionDigits: 0,
        maximumFractionDigits: 0,
      }).format(n);
    case "count":
      return grouped(n, 0);
    case "ratio":
      return `${grouped(n, 1)}%`;
    case "days":
    case "hours":
      return grouped(n, 2) + SUFFIX[unit][lang()];
    default:
      return grouped(n, 2);
  }
}

// Money to the currency's minor unit (incentives: statements are paid to the fen), exact.
export function money(value, currency) {
  if (num(value) === null) return "–";
  const exact = typeof value === "string" ? roundDecimal(value, 2) : null;
  return new Intl.NumberFormat(lang(), {
    style: "currency",
    currency: currency || "CNY",
    currencyDisplay: "narrowSymbol",
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  }).format(exact !== null ? Number(exact) : num(value));
}

export function pct(value, digits = 0) {
  if (num(value) === null) return "–";
  const exact = typeof value === "string" ? roundDecimal(value, digits, 2) : null;
  return `${grouped(exact !== null ? Number(exact) : num(value) * 100, digits)}%`;
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return new Intl.DateTimeFormat(lang(), {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).format(d);
}

export function clock(d = new Date()) {
  return new Intl.DateTimeFormat(lang(), { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(d);
}
