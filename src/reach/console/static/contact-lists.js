// The contact-lists page: pick a ContactList segment, see its match statistics (by identifier
// type), upload a file of identifiers in batches (after a preview of how the server reads its
// first lines), and wipe the list. The browser only splits the file into values: checking and
// normalising them is the server's (the preview asks it, the upload lets it).
import {
  ApiError,
  applyReadOnly,
  busy,
  call,
  clearProblems,
  context,
  el,
  formatNumber,
  notify,
  searchAll,
  showProblems,
} from "./console.js";

const PREVIEWED = 20;
// The API pages its searches by 100 at most.
const SEARCH_PAGE = 100;
// Batches are at most the server's per-call limit, and small enough for the progress to move.
const BATCH_AT_MOST = 5000;

const $ = (id) => document.getElementById(id);
const select = $("list-select");
const panel = $("list-panel");
const form = $("upload-form");
const fileInput = $("file");
const typeSelect = $("identifier-type");
const columnSelect = $("column");
const sendButton = $("send");
const cancelButton = $("cancel");
const percent = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 2 });

let lists = []; // the advertiser's ContactList segments
let parsed = null; // {name, csv, header, rows | lines}
let perCall = null; // the server's per-call limit, from the preview
// The running upload: {cancelled}. A cancel lets the batch under way finish (the server would
// store it anyway), then sends no more, so the count of what was sent stays true.
let uploading = null;

function selectedList() {
  return lists.find((s) => s.id === select.value) || null;
}

// --- the lists -------------------------------------------------------------------------------

async function loadLists() {
  if (!context.advertiserId) return;
  const wanted = new URLSearchParams(location.search).get("list") || select.value;
  try {
    lists = await busy(
      select,
      searchAll("/audience-segments/search", {
        advertiserIds: [context.advertiserId],
        audienceSegmentTypes: ["ContactList"],
      }, SEARCH_PAGE),
    );
  } catch (error) {
    notify(`The contact lists could not be loaded: ${error.message}. Reload the page to try again.`, "error");
    return;
  }
  lists.sort((a, b) => (a.attributes.name || "").localeCompare(b.attributes.name || "") || a.id - b.id);
  select.replaceChildren(
    ...lists.map((s) => {
      const readOnly = s.attributes.contactList && s.attributes.contactList.isReadOnly;
      return el("option", { value: s.id }, `${s.attributes.name || "(no name)"} (${s.id})${readOnly ? " — read-only" : ""}`);
    }),
  );
  const none = lists.length === 0;
  $("no-lists").hidden = !none;
  $("pick-row").hidden = none;
  $("list-hint").hidden = none;
  panel.hidden = none;
  if (none) return;
  if (lists.some((s) => s.id === wanted)) select.value = wanted;
  await showList();
}

async function showList() {
  const segment = selectedList();
  if (!segment) return;
  const query = new URLSearchParams(location.search);
  query.set("list", segment.id);
  history.replaceState(null, "", `${location.pathname}?${query}`);
  const readOnlyList = Boolean(segment.attributes.contactList && segment.attributes.contactList.isReadOnly);
  $("wipe").disabled = readOnlyList;
  $("wipe").title = readOnlyList ? "This list is read-only (reach contact-list read-only)." : "";
  updateSendButton();
  applyReadOnly(panel);
  await loadStatistics();
}

// --- statistics --------------------------------------------------------------------------------

function rateOf(matches, identifiers) {
  if (matches === null || matches === undefined) return "—";
  return identifiers ? percent.format(matches / identifiers) : percent.format(0);
}

async function loadStatistics() {
  const segment = selectedList();
  if (!segment) return;
  const stats = $("stats");
  try {
    const [api, detail] = await busy(
      stats,
      Promise.all([
        call("GET", `/audience-segments/${segment.id}/contact-list/statistics`),
        call("GET", `/console/api/contact-lists/${segment.id}/statistics`),
      ]),
    );
    if (segment !== selectedList()) return; // another list was chosen meanwhile
    const figures = api.data.attributes;
    $("stat-identifiers").textContent = formatNumber(figures.numberOfIdentifiers);
    $("stat-matches").textContent = formatNumber(figures.numberOfMatches);
    $("stat-rate").textContent =
      figures.matchRate === null || figures.matchRate === undefined ? "—" : percent.format(figures.matchRate);
    const rows = detail.data.byType.map((t) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, t.identifierType),
        el("td", { class: "number" }, el("span", { class: "size" }, formatNumber(t.numberOfIdentifiers))),
        el("td", { class: "number" }, el("span", { class: "size" }, formatNumber(t.numberOfMatches))),
        el("td", { class: "number" }, el("span", { class: "size" }, rateOf(t.numberOfMatches, t.numberOfIdentifiers))),
      ),
    );
    $("by-type").querySelector("tbody").replaceChildren(...rows);
    $("by-type").hidden = rows.length === 0;
    $("by-type-empty").hidden = rows.length > 0;
    const refused = $("refused-reasons");
    refused.querySelector("ul").replaceChildren(
      ...detail.data.refused.map((r) => el("li", {}, `${formatNumber(r.count)} ${r.reason}`)),
    );
    refused.hidden = detail.data.refused.length === 0;
    const warnings = [...api.warnings, ...detail.warnings.filter((w) => !api.warnings.some((a) => a.detail === w.detail))];
    $("stat-warnings").replaceChildren(...warnings.map((w) => el("li", {}, w.detail || w.title)));
  } catch (error) {
    notify(`The statistics could not be read: ${error.message}`, "error");
  }
}

// --- the file ----------------------------------------------------------------------------------

// Rows of a CSV text (RFC 4180: quoted fields may hold commas, quotes and line breaks).
function csvRows(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else {
      field += c;
    }
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function isBlank(value) {
  return value.trim() === "";
}

// The values to send, with the line each came from (blank ones skipped, nothing else changed).
function valuesOf(file) {
  if (!file) return [];
  if (!file.csv) return file.lines;
  const position = Math.max(0, Number(columnSelect.value) || 0);
  const found = [];
  file.rows.forEach((row, index) => {
    if (row.length > position && !isBlank(row[position])) found.push({ line: index + 2, value: row[position] });
  });
  return found;
}

async function readFile(file) {
  clearProblems(form);
  $("upload-result").replaceChildren();
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(await file.arrayBuffer());
  } catch {
    parsed = null;
    showProblems(form, [{ detail: `${file.name} is not UTF-8 text: save it as UTF-8 CSV or TXT, then choose it again.`, source: { file: "file" } }]);
    updateSendButton();
    return;
  }
  if (text.startsWith("\ufeff")) text = text.slice(1); // a byte-order mark is not data
  const csv = /\.csv$/i.test(file.name) || file.type === "text/csv";
  if (csv) {
    const [header = [], ...rows] = csvRows(text);
    parsed = { name: file.name, csv, header, rows };
    columnSelect.replaceChildren(...header.map((name, i) => el("option", { value: i }, name || `column ${i + 1}`)));
  } else {
    const lines = [];
    text.split(/\r\n|\n|\r/).forEach((line, index) => {
      if (!isBlank(line)) lines.push({ line: index + 1, value: line });
    });
    parsed = { name: file.name, csv, lines };
  }
  $("column-field").hidden = !csv;
  await preview();
}

// --- preview -----------------------------------------------------------------------------------

// Each preview is numbered: an answer to an earlier file, type or column is dropped.
let previews = 0;

async function preview() {
  const asked = ++previews;
  const shown = parsed;
  const values = valuesOf(parsed);
  const section = $("preview");
  if (!parsed) {
    section.hidden = true;
    updateSendButton();
    return;
  }
  section.hidden = false;
  const first = values.slice(0, PREVIEWED);
  const body = $("preview-table").querySelector("tbody");
  if (!first.length) {
    $("preview-summary").textContent = `${parsed.name} holds no identifier${parsed.csv ? " in this column" : ""}.`;
    body.replaceChildren();
    updateSendButton();
    return;
  }
  clearProblems(form);
  try {
    const answer = await busy(
      section,
      call("POST", "/console/api/contact-lists/preview", {
        identifierType: typeSelect.value,
        identifiers: first.map((v) => v.value),
      }),
    );
    if (asked !== previews) return;
    perCall = answer.data.maxIdentifiersPerCall;
    const judged = answer.data.identifiers;
    const refused = judged.filter((j) => !j.accepted).length;
    $("preview-summary").textContent =
      `${shown.name}: ${formatNumber(values.length)} identifiers to send. Of the first ${judged.length}, ` +
      `${formatNumber(judged.length - refused)} will be accepted and ${formatNumber(refused)} refused.`;
    body.replaceChildren(
      ...judged.map((j, i) =>
        el(
          "tr",
          {},
          el("td", { class: "number" }, formatNumber(first[i].line)),
          el("td", { class: "value" }, j.value),
          el("td", {}, el("span", { class: j.accepted ? "verdict-accepted" : "verdict-refused" }, j.accepted ? "accepted" : "refused")),
          el("td", { class: j.accepted ? "key" : "" }, j.accepted ? j.key : j.reason),
        ),
      ),
    );
  } catch (error) {
    if (asked !== previews) return;
    body.replaceChildren();
    $("preview-summary").textContent = "";
    if (error instanceof ApiError) showProblems(form, error.problems);
    else notify(`The preview failed: ${error.message}`, "error");
  }
  updateSendButton();
}

function updateSendButton() {
  const count = valuesOf(parsed).length;
  sendButton.textContent = count ? `Send ${formatNumber(count)} identifiers` : "Send";
  const segment = selectedList();
  const readOnlyList = Boolean(segment && segment.attributes.contactList && segment.attributes.contactList.isReadOnly);
  sendButton.disabled = context.readOnly || readOnlyList || uploading !== null || count === 0 || perCall === null;
}

// --- upload --------------------------------------------------------------------------------------

function setProgress(sent, total) {
  const share = total ? Math.floor((sent / total) * 100) : 100;
  $("upload-progress").value = share;
  $("progress-text").textContent = `${share}% (${formatNumber(sent)} of ${formatNumber(total)})`;
}

function gumCallerId() {
  const raw = $("gum-caller-id").value;
  // Sent as typed; a value that is not a whole number is left for the API to refuse.
  return /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
}

async function upload(event) {
  event.preventDefault();
  const segment = selectedList();
  const values = valuesOf(parsed).map((v) => v.value);
  if (!segment || !values.length || uploading) return;
  clearProblems(form);
  const kind = typeSelect.value;
  const size = Math.min(perCall || BATCH_AT_MOST, BATCH_AT_MOST);
  const run = { cancelled: false };
  uploading = run;
  updateSendButton();
  cancelButton.hidden = false;
  $("progress-field").hidden = false;
  setProgress(0, values.length);
  const result = $("upload-result");
  result.replaceChildren(el("p", {}, `Sending ${formatNumber(values.length)} identifiers to ${segment.attributes.name}…`));
  const totals = { sent: 0, valid: 0, invalid: 0, sample: [], warnings: [] };
  let failure = null;
  for (let start = 0; start < values.length; start += size) {
    if (run.cancelled) break;
    const attributes = { operation: "add", identifierType: kind, identifiers: values.slice(start, start + size) };
    if (kind === "gum") attributes.gumCallerId = gumCallerId();
    try {
      const answer = await call(
        "PATCH",
        `/audience-segments/${segment.id}/contact-list`,
        { data: { type: "ContactlistAmendment", attributes } },
      );
      const receipt = answer.data.attributes;
      totals.valid += receipt.nbValidIdentifiers;
      totals.invalid += receipt.nbInvalidIdentifiers;
      totals.sample.push(...receipt.sampleInvalidIdentifiers.slice(0, 10 - totals.sample.length));
      const batch = `Batch ${formatNumber(start / size + 1)} of ${formatNumber(Math.ceil(values.length / size))}`;
      totals.warnings.push(...answer.warnings.map((w) => `${batch}: ${w.detail || w.title}`));
    } catch (error) {
      failure = error;
      break;
    }
    totals.sent = Math.min(start + size, values.length);
    setProgress(totals.sent, values.length);
  }
  uploading = null;
  cancelButton.hidden = true;
  cancelButton.disabled = false;
  updateSendButton();
  const lines = [];
  if (failure) {
    if (failure instanceof ApiError) showProblems(form, failure.problems);
    lines.push(
      el("p", { class: "error" }, `The upload stopped: ${failure.message}. ${formatNumber(totals.sent)} of ${formatNumber(values.length)} identifiers had been sent and stay in the list; fix the problem and send the file again (identifiers sent twice are kept once).`),
    );
  } else if (run.cancelled && totals.sent < values.length) {
    lines.push(
      el("p", {}, `Cancelled. ${formatNumber(totals.sent)} of ${formatNumber(values.length)} identifiers had been sent and stay in the list.`),
    );
  } else {
    lines.push(el("p", { class: "success" }, `Sent ${formatNumber(values.length)} identifiers.`));
  }
  lines.push(
    el(
      "p",
      {},
      `Accepted: `,
      el("strong", { id: "result-accepted" }, formatNumber(totals.valid)),
      `. Refused: `,
      el("strong", { id: "result-refused" }, formatNumber(totals.invalid)),
      ".",
    ),
  );
  if (totals.sample.length) {
    lines.push(el("p", {}, "Some refused identifiers, as sent:"), el("ul", {}, ...totals.sample.map((s) => el("li", {}, el("code", {}, s)))));
  }
  if (totals.warnings.length) {
    lines.push(el("p", {}, "What the server said:"), el("ul", { class: "hint" }, ...totals.warnings.map((w) => el("li", {}, w))));
  }
  result.replaceChildren(...lines);
  await loadStatistics();
}

// --- wipe --------------------------------------------------------------------------------------

function askWipe() {
  const segment = selectedList();
  if (!segment) return;
  const dialog = $("wipe-dialog");
  $("wipe-message").textContent =
    `Every identifier of “${segment.attributes.name}” (${segment.id}) will be removed, for good: ` +
    "audiences that use the list will reach nobody through it until you upload again. The segment itself stays.";
  dialog.returnValue = "";
  dialog.showModal();
  $("wipe-keep").focus(); // the safe choice first
}

async function onWipeClosed() {
  const dialog = $("wipe-dialog");
  const segment = selectedList();
  if (dialog.returnValue !== "wipe" || !segment) {
    $("wipe").focus();
    return;
  }
  try {
    await busy($("wipe"), call("DELETE", `/audience-segments/${segment.id}/contact-list`));
    notify(`The list “${segment.attributes.name}” is now empty.`, "success");
  } catch (error) {
    notify(`The list was not wiped: ${error.message}`, "error");
  }
  $("wipe").focus();
  await loadStatistics();
}

// --- wiring ------------------------------------------------------------------------------------

function wireDropZone() {
  const zone = $("drop-zone");
  const over = (event) => {
    event.preventDefault();
    if (!context.readOnly && !uploading) zone.classList.add("dragover");
  };
  zone.addEventListener("dragenter", over);
  zone.addEventListener("dragover", over);
  zone.addEventListener("dragleave", () => zone.classList.remove("dragover"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragover");
    if (context.readOnly || uploading) return;
    const [file] = event.dataTransfer.files;
    if (file) readFile(file);
  });
}

function start() {
  if (!context.advertiserId) return;
  select.addEventListener("change", showList);
  $("refresh-lists").addEventListener("click", loadLists);
  fileInput.addEventListener("change", () => {
    const [file] = fileInput.files;
    if (file) readFile(file);
  });
  typeSelect.addEventListener("change", () => {
    $("gum-field").hidden = typeSelect.value !== "gum";
    preview();
  });
  columnSelect.addEventListener("change", preview);
  form.addEventListener("submit", upload);
  cancelButton.addEventListener("click", () => {
    if (!uploading) return;
    uploading.cancelled = true;
    cancelButton.disabled = true;
    $("progress-text").textContent += " — cancelling after this batch…";
  });
  $("wipe").addEventListener("click", askWipe);
  $("wipe-dialog").addEventListener("close", onWipeClosed);
  wireDropZone();
  applyReadOnly(document);
  loadLists();
}

start();
