// The lookalikes page: the advertiser's lookalike segments with the state of their models, and
// one model explained (what it was trained on, its strongest features as a table and a chart).
// The segments come from the API's search; each model's state and explanation from
// /console/api/lookalikes/{id}, which reads them as `reach lookalike status` and `explain` do.
import { ApiError, applyReadOnly, busy, call, context, el, formatNumber, formatSize, notify, searchAll } from "./console.js";

const $ = (id) => document.getElementById(id);
// The largest page the API serves.
const PAGE = 100;
// How often a pending model is asked for again.
const POLL_MS = 3000;
const SVG = "http://www.w3.org/2000/svg";

const STATES = {
  pending: "Building",
  built: "Built",
  failed: "Failed",
  "no-index": "Waiting for data",
};

let segmentsById = new Map();
let lookalikes = [];
let selected = new URLSearchParams(location.search).get("lookalike");
let pollTimer = null;

function segmentName(id) {
  const found = segmentsById.get(String(id));
  return found ? `${found.attributes.name} (${id})` : `segment ${id}`;
}

function stateText(item) {
  return STATES[item.state] || item.state;
}

// Why the size is null when it is withheld (the API's own warning), so that it says so.
function withheld(item) {
  return (item.warnings || []).filter((w) => w.code === "size-below-privacy-floor");
}

// A count of the model: withheld below the floor, as sizes are.
function count(value, floor) {
  return value === null || value === undefined ? `fewer than ${formatNumber(floor)} (withheld)` : formatNumber(value);
}

// What the operator can do about a state, in words.
function stateAdvice(item) {
  if (item.state === "failed") {
    return `${item.reason} An operator can retry on the server with ${item.retry}.`;
  }
  if (item.state === "pending") return "The server is building the model; this page refreshes by itself.";
  if (item.state === "no-index") return item.reason;
  if (item.state === "error") return `Its state could not be read (${item.reason}); press Refresh to ask again.`;
  return null;
}

// --- the list ------------------------------------------------------------------------------

async function loadList() {
  const wrap = $("lookalikes-wrap");
  const segments = await busy(wrap, searchAll("/audience-segments/search", { advertiserIds: [context.advertiserId] }, PAGE));
  segmentsById = new Map(segments.map((s) => [String(s.id), s]));
  lookalikes = segments.filter((s) => s.attributes.type === "Lookalike");
  const states = await explainAll();
  renderList(states);
  wrap.removeAttribute("aria-busy");
  if (!selected && lookalikes.length) selected = String(lookalikes[0].id);
  const chosen = states.find((s) => s && s.id === selected);
  if (chosen) renderExplanation(chosen);
  schedule(states);
}

// Every lookalike's state, a few calls at a time (a page of many lookalikes must not spend the
// operator's rate limit in one burst).
async function explainAll(atOnce = 4) {
  const states = new Array(lookalikes.length);
  let next = 0;
  async function worker() {
    while (next < lookalikes.length) {
      const index = next;
      next += 1;
      states[index] = await explainOf(lookalikes[index].id);
    }
  }
  await Promise.all(Array.from({ length: Math.min(atOnce, lookalikes.length) }, worker));
  return states;
}

async function explainOf(id) {
  try {
    const answer = await call("GET", `/console/api/lookalikes/${encodeURIComponent(id)}`);
    return { ...answer.data, warnings: answer.warnings || [] };
  } catch (error) {
    if (error instanceof ApiError) {
      return { id: String(id), state: "error", reason: error.message, warnings: [], model: null };
    }
    throw error;
  }
}

function renderList(states) {
  const body = $("lookalikes-body");
  body.replaceChildren(
    ...lookalikes.map((segment, i) => {
      const item = states[i];
      const advice = stateAdvice(item);
      return el(
        "tr",
        { dataset: { lookalike: segment.id } },
        el("th", { scope: "row" }, `${segment.attributes.name} `, el("span", { class: "hint" }, `(${segment.id})`)),
        el("td", {}, segmentName(item.seedSegmentId)),
        el("td", { class: "number" }, formatNumber(item.targetSize)),
        el("td", { class: "number" }, el("span", { class: "size" }, formatSize(item.size, withheld(item)))),
        el(
          "td",
          { class: "model-state" },
          el("span", { class: `badge state-${item.state}` }, stateText(item)),
          advice ? el("p", { class: item.state === "failed" ? "error" : "hint" }, advice) : null,
        ),
        el(
          "td",
          {},
          el(
            "button",
            {
              type: "button",
              class: "secondary",
              "aria-controls": "explain-section",
              "aria-label": `Explain ${segment.attributes.name}`,
              onclick: () => choose(String(segment.id)),
            },
            "Explain",
          ),
        ),
      );
    }),
  );
  $("lookalikes-table").hidden = lookalikes.length === 0;
  $("lookalikes-empty").hidden = lookalikes.length !== 0;
}

async function choose(id) {
  selected = id;
  const query = new URLSearchParams(location.search);
  query.set("lookalike", id);
  history.replaceState(null, "", `${location.pathname}?${query}`);
  const item = await busy($("explain-section"), explainOf(id));
  if (id !== selected) return; // another lookalike was chosen meanwhile: its answer wins
  renderExplanation(item);
  $("explain-heading").focus();
}

// --- one model -----------------------------------------------------------------------------

function renderExplanation(item) {
  const section = $("explain-section");
  section.hidden = false;
  const segment = segmentsById.get(item.id);
  const heading = $("explain-heading");
  heading.textContent = `Model of ${segment ? segment.attributes.name : `lookalike ${item.id}`}`;
  heading.setAttribute("tabindex", "-1");
  const parts = [
    el("p", {}, el("span", { class: `badge state-${item.state}` }, stateText(item)), " ", stateAdvice(item) || ""),
  ];
  const warnings = (item.warnings || []).filter((w) => w.code && w.code.startsWith("lookalike-"));
  if (warnings.length) {
    parts.push(el("ul", { class: "warnings" }, ...warnings.map((w) => el("li", { class: "warn" }, w.detail))));
  }
  const model = item.model;
  if (!model) {
    parts.push(
      el(
        "p",
        { class: "empty", id: "model-empty" },
        item.state === "failed"
          ? "No model could be built for this lookalike. "
          : item.state === "error"
            ? "The model could not be read just now. "
            : "Building — refresh in a few seconds. ",
        el("button", { type: "button", class: "secondary", onclick: () => choose(item.id) }, "Refresh"),
      ),
    );
    $("explain").replaceChildren(...parts);
    return;
  }
  if (!model.current) {
    parts.push(
      el(
        "p",
        { class: "hint" },
        "This is the previous model: the lookalike's inputs changed since (its target size, its seed or the data), and the new one is not built yet.",
      ),
    );
  }
  parts.push(diagnostics(model, item.sizeFloor), features(model.features));
  $("explain").replaceChildren(...parts);
}

function diagnostics(model, floor) {
  const auc = model.holdoutAuc === null ? "—" : model.holdoutAuc.toFixed(3);
  const rows = [
    ["Members", count(model.size, floor)],
    ["Target size", formatNumber(model.targetSize)],
    ["Seed (matched users)", count(model.seedSize, floor)],
    ["Eligible users", count(model.eligibleSize, floor)],
    ["Countries", model.countries.join(", ") || "none"],
    ["Trained on", `${count(model.positives, floor)} seed users, ${count(model.negatives, floor)} others`],
    ["Holdout AUC", auc],
    ["Index", `${model.buildId} (data up to ${model.indexAsOf})`],
    ["Built", `${model.builtAt} in ${model.seconds.toFixed(1)} s`],
  ];
  return el(
    "dl",
    { class: "facts", id: "model-facts" },
    ...rows.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]),
  );
}

function features(list) {
  if (!list.length) return el("p", { class: "empty" }, "The model kept no feature.");
  const table = el(
    "table",
    { id: "features-table" },
    el("caption", {}, "Strongest features: a positive weight draws users in, a negative one keeps them out"),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", { scope: "col" }, "Feature"),
        el("th", { scope: "col", class: "number" }, "Weight"),
        el("th", { scope: "col", class: "number" }, "In seed"),
        el("th", { scope: "col", class: "number" }, "Among eligible"),
      ),
    ),
    el(
      "tbody",
      {},
      ...list.map((f) =>
        el(
          "tr",
          {},
          el("td", {}, f.label),
          el("td", { class: "number" }, f.text.weight),
          el("td", { class: "number" }, f.text.seedShare),
          el("td", { class: "number" }, f.text.eligibleShare),
        ),
      ),
    ),
  );
  return el(
    "div",
    {},
    el("h3", {}, "Weights"),
    chart(list),
    el("h3", {}, "Features"),
    // Focusable, so that a table wider than the screen scrolls by keyboard too.
    el("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Features, scrollable" }, table),
  );
}

// A bar per feature, from a middle axis: right (green) for a positive weight, left (red) for a
// negative one, scaled to the largest weight. Labels left of the bars on a wide screen, above
// them on a narrow one (where the chart would otherwise shrink its text out of reach).
function chart(list) {
  const narrow = window.matchMedia("(max-width: 700px)").matches;
  const labelWidth = narrow ? 0 : 360;
  const half = narrow ? 140 : 200;
  const labelHeight = narrow ? 16 : 0;
  const rowHeight = 22 + labelHeight;
  const width = labelWidth + 2 * half + (narrow ? 0 : 70);
  const height = rowHeight * list.length + 8;
  const largest = Math.max(...list.map((f) => Math.abs(f.weight)), 1e-9);
  const svg = svgEl("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width: "100%",
    role: "img",
    "aria-labelledby": "weights-title",
    class: "weights-chart",
  });
  const title = svgEl("title", { id: "weights-title" });
  title.textContent = `Weights of the ${list.length} strongest features (the table below lists them)`;
  svg.append(title);
  const axis = labelWidth + half;
  const longest = narrow ? 56 : 52;
  list.forEach((f, i) => {
    const y = 4 + i * rowHeight;
    const barY = y + labelHeight;
    // Room for the value beside the bar on a narrow screen.
    const length = (Math.abs(f.weight) / largest) * (half - (narrow ? 50 : 4));
    const text = svgEl("text", {
      x: narrow ? 0 : labelWidth - 8,
      y: y + (narrow ? 12 : 15),
      "text-anchor": narrow ? "start" : "end",
      "font-size": 12,
      fill: "#1b1f24",
    });
    text.textContent = f.label.length > longest ? `${f.label.slice(0, longest - 1)}…` : f.label;
    const bar = svgEl("rect", {
      x: f.weight >= 0 ? axis : axis - length,
      y: barY + 3,
      width: Math.max(length, 1),
      height: 16,
      fill: f.weight >= 0 ? "#146c2e" : "#b3261e",
    });
    const value = svgEl("text", {
      x: f.weight >= 0 ? axis + length + 4 : axis - length - 4,
      y: barY + 15,
      "text-anchor": f.weight >= 0 ? "start" : "end",
      "font-size": 12,
      fill: "#1b1f24",
    });
    value.textContent = f.text.weight;
    svg.append(text, bar, value);
  });
  svg.append(svgEl("line", { x1: axis, x2: axis, y1: 0, y2: height, stroke: "#4d5866", "stroke-width": 1 }));
  return svg;
}

function svgEl(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

// --- waiting for models --------------------------------------------------------------------

// While a model is being built, the list (and the explanation shown) is asked for again.
function schedule(states) {
  clearTimeout(pollTimer);
  if (states.some((s) => s && s.state === "pending")) {
    pollTimer = setTimeout(() => refresh().catch(report), POLL_MS);
  }
}

async function refresh() {
  const states = await explainAll();
  renderList(states);
  const chosen = states.find((s) => s && s.id === selected);
  if (chosen) renderExplanation(chosen);
  schedule(states);
}

function report(error) {
  notify(error instanceof ApiError ? error.message : `The page could not load: ${error.message}`, "error");
}

if (context.advertiserId) {
  loadList()
    .then(() => applyReadOnly(document))
    .catch(report);
}
