// The console's Reports section: pick a report, a facility and dates; the page shows the
// report's cards and tables (report_view.js), the response-time charts as the server draws them
// (the same SVG the printed review carries), a CSV download under every table, and the
// operational review as PDF or a print view over the same choices.

import { $, api, el, show } from "./common.js";
import { renderReport } from "./report_view.js";

const CHARTS = {
  response_time: [
    ["histogram", "Join latency histogram with the 30 s and 90 s lines"],
    ["weekly", "Weekly p90 join latency and share over 90 s"],
    ["weekday_hour", "Sessions and median join latency by weekday and hour"],
  ],
};
const DEFAULT_DAYS = 30;

let started = false;
let loading = null;

function isoDay(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 10);
}

function defaultDates() {
  const today = new Date();
  const from = new Date(today);
  from.setDate(from.getDate() - (DEFAULT_DAYS - 1));
  $("r-from").value = isoDay(from);
  $("r-to").value = isoDay(today);
  const before = new Date(from);
  before.setDate(before.getDate() - DEFAULT_DAYS);
  const beforeEnd = new Date(from);
  beforeEnd.setDate(beforeEnd.getDate() - 1);
  $("r-b-from").value = isoDay(from);
  $("r-b-to").value = isoDay(today);
  if (!$("r-from").dataset.touched) {
    // before/after starts as the previous 30 days against the last 30
    $("r-from").dataset.before = isoDay(before);
    $("r-to").dataset.before = isoDay(beforeEnd);
  }
}

/** What the form asks for, as the API's query; an Error naming what is wrong. */
function query() {
  const key = $("r-key").value;
  const params = new URLSearchParams();
  const facility = $("r-facility").value;
  if (facility) params.set("facility", facility);
  const from = $("r-from").value;
  const to = $("r-to").value;
  if (key === "before_after") {
    const bFrom = $("r-b-from").value;
    const bTo = $("r-b-to").value;
    if (!from || !to || !bFrom || !bTo) throw new Error("Give both date ranges: before, and after.");
    if (from > to || bFrom > bTo) throw new Error("Each range must start on or before its last day.");
    params.set("a_from", from);
    params.set("a_to", to);
    params.set("b_from", bFrom);
    params.set("b_to", bTo);
    return { key, params };
  }
  if (key !== "forecast") {
    if (from && to && from > to) throw new Error("“From” must be on or before “To”.");
    if (from) params.set("from", from);
    if (to) params.set("to", to);
  }
  return { key, params };
}

/** The dates asked for, as the page says them (the report's own bounds are UTC instants). */
function periodWords(key, params) {
  if (key === "before_after") return `before ${params.get("a_from")} to ${params.get("a_to")}, after ${params.get("b_from")} to ${params.get("b_to")}`;
  if (key === "forecast" || !params.get("from") || !params.get("to")) return null;
  return `${params.get("from")} to ${params.get("to")}, facility time`;
}

function path(key) {
  return key === "before_after" ? "/api/reports/before-after" : `/api/reports/${key}`;
}

function syncForm() {
  const key = $("r-key").value;
  const past = key !== "forecast";
  for (const node of document.querySelectorAll("#report-form .r-past")) show(node, past);
  for (const node of document.querySelectorAll("#report-form .r-after")) show(node, key === "before_after");
  $("r-from-label").textContent = key === "before_after" ? "Before: from" : "From";
  $("r-to-label").textContent = key === "before_after" ? "Before: to (including)" : "To (including)";
  if (key === "before_after" && !$("r-from").dataset.touched) {
    $("r-from").value = $("r-from").dataset.before || $("r-from").value;
    $("r-to").value = $("r-to").dataset.before || $("r-to").value;
  }
}

function reviewLinks(key, params) {
  const review = new URLSearchParams(params);
  if (key !== "before_after") review.set("report", key);
  for (const name of ["a_from", "a_to", "b_from", "b_to"]) review.delete(name);
  const usable = key !== "before_after";
  show($("r-pdf"), usable);
  show($("r-print"), usable);
  $("r-pdf").href = `/api/reports/review.pdf?${review}`;
  $("r-print").href = `/api/reports/review.html?${review}`;
}

function chartsOf(key, params) {
  const charts = CHARTS[key] || [];
  if (!charts.length) return [];
  return [el("div", { class: "sup-charts", dataset: { testid: "report-charts" } },
    charts.map(([name, alt]) =>
      el("figure", { class: "sup-chart", dataset: { chart: name } },
        el("img", { src: `/api/reports/${key}/charts/${name}.svg?${params}`, alt }))))];
}

function csvLinks(key, params) {
  if (key === "before_after") return;
  for (const section of $("report-root").querySelectorAll(".report-table")) {
    const table = section.dataset.key;
    const link = el("a", {
      onclick: (event) => event.stopPropagation(),
      class: "report-csv",
      href: `/api/reports/${key}/${table}.csv?${params}`,
      download: "",
      dataset: { testid: `csv-${table}` },
    }, "Download CSV");
    section.querySelector("summary").append(link);
  }
}

async function load() {
  let asked;
  try {
    asked = query();
  } catch (error) {
    $("report-status").textContent = error.message;
    $("report-status").dataset.state = "error";
    return;
  }
  const { key, params } = asked;
  $("report-status").textContent = "Reading the report…";
  $("report-status").dataset.state = "busy";
  reviewLinks(key, params);
  try {
    const report = await api("GET", `${path(key)}?${params}`);
    renderReport(report, $("report-root"), { afterCards: chartsOf(key, params), period: periodWords(key, params) });
    csvLinks(key, params);
    $("report-status").textContent = "";
    $("report-status").dataset.state = "ok";
  } catch (error) {
    $("report-root").replaceChildren();
    $("report-status").textContent = `The report could not be read: ${error.detail}`;
    $("report-status").dataset.state = "error";
  }
}

/** Fill the facility choice (``choices`` of /api/super/choices) and show the first report once
 * the section is opened. */
export function openReports(choices) {
  if (started) return loading;
  started = true;
  $("r-facility").append(...choices.facilities.map((f) => el("option", { value: String(f.id) }, f.name)));
  defaultDates();
  for (const id of ["r-from", "r-to"]) $(id).addEventListener("input", () => { $(id).dataset.touched = "1"; });
  $("r-key").addEventListener("change", () => { syncForm(); load(); });
  $("report-form").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  syncForm();
  loading = load();
  return loading;
}
