// One report on a page, whatever report it is: the Report JSON of /api/reports/{key}
// (signaling/reports/shape.py as dataclasses.asdict): a head, cards with the change against the
// previous period of the same length, tables, notes. Values are shown by their unit.

import { el } from "./common.js";

/** A value in words by its unit (count, seconds, share 0..1, per_1000, text); "—" for none. */
export function formatValue(value, unit) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value !== "number") return String(value);
  switch (unit) {
    case "count":
      return Math.round(value).toLocaleString("en-US");
    case "seconds":
      return formatSeconds(value);
    case "share":
      return `${(value * 100).toFixed(1)} %`;
    case "per_1000":
      return `${value.toFixed(2)} per 1,000`;
    default:
      return value.toLocaleString("en-US");
  }
}

function formatSeconds(value) {
  if (value < 60) return `${value.toFixed(1)} s`;
  const whole = Math.round(value);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, "0")} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, "0")} min`;
}

/** The change of a card against its previous period: [words, trend] with trend "better",
 * "worse", "same" or "none" (no figure to compare, or no better direction). */
export function cardChange(card) {
  const { value, previous, unit, better } = card;
  if (typeof value !== "number" || typeof previous !== "number") {
    return ["no previous period to compare", "none"];
  }
  const change = value - previous;
  const before = `${formatValue(previous, unit)} before`;
  if (Math.abs(change) < 1e-9) return [`no change (${before})`, "same"];
  const sign = change > 0 ? "+" : "−";
  const size = Math.abs(change);
  let amount;
  if (unit === "share") amount = `${(size * 100).toFixed(1)} pts`;
  else if (unit === "seconds") amount = formatSeconds(size);
  else if (unit === "per_1000") amount = size.toFixed(2);
  else amount = size.toLocaleString("en-US", { maximumFractionDigits: 2 });
  const arrow = change > 0 ? "▲" : "▼";
  let trend = "none";
  if (better === "lower") trend = change < 0 ? "better" : "worse";
  if (better === "higher") trend = change > 0 ? "better" : "worse";
  return [`${arrow} ${sign}${amount} vs ${before}`, trend];
}

function day(iso) {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toISOString().slice(0, 10) : String(iso || "");
}

/** The last day a period covers: its end is exclusive. */
function lastDay(iso) {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t - 1).toISOString().slice(0, 10) : String(iso || "");
}

function cardNode(card) {
  const [change, trend] = cardChange(card);
  return el(
    "article",
    { class: "report-card", dataset: { key: card.key, trend } },
    el("h3", {}, card.label),
    el("p", { class: "report-value" }, formatValue(card.value, card.unit)),
    el("p", { class: "report-change" }, change),
  );
}

function tableNode(table, index) {
  const head = el(
    "tr",
    {},
    table.columns.map((c) => el("th", { scope: "col", dataset: { unit: c.unit || "text" } }, c.label)),
  );
  const rows = table.rows.map((row) =>
    el(
      "tr",
      {},
      row.map((value, i) =>
        el("td", { dataset: { unit: table.columns[i].unit || "text" } }, formatValue(value, table.columns[i].unit)),
      ),
    ),
  );
  // Long reports have a dozen tables: the first is open, the others one click away, each with
  // its row count, so the cards and charts stay in view.
  const count = `${table.rows.length.toLocaleString("en-US")} ${table.rows.length === 1 ? "row" : "rows"}`;
  return el(
    "details",
    { class: "report-table", dataset: { key: table.key }, open: index === 0 },
    el("summary", {}, el("h3", {}, table.title), el("span", { class: "hint report-rows" }, count)),
    el(
      "div",
      { class: "sup-table-wrap" },
      el("table", { class: "sup-table" }, el("thead", {}, head), el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: table.columns.length, class: "empty" }, "No rows.")))),
    ),
  );
}

/** Draw ``report`` into ``root`` (replacing what was there), with ``options.afterCards`` (nodes,
 * e.g. its charts) between the cards and the tables, and ``options.period`` (words for the dates
 * asked for; else the report's UTC dates); returns root. */
export function renderReport(report, root, options = {}) {
  const facilities = (report.facilities || []).join(", ") || "no facility";
  root.replaceChildren(
    el(
      "header",
      { class: "report-head" },
      el("h3", { class: "report-title" }, report.title),
      el("p", { class: "hint" }, `${options.period || `${day(report.start)} to ${lastDay(report.end)}`} · ${facilities}`),
    ),
    el("div", { class: "report-cards" }, (report.cards || []).map(cardNode)),
    ...(options.afterCards || []),
    ...(report.tables || []).map((table, index) => tableNode(table, index)),
    el("ul", { class: "report-notes", hidden: !(report.notes && report.notes.length) },
      (report.notes || []).map((n) => el("li", {}, n))),
  );
  root.dataset.report = report.key;
  return root;
}
