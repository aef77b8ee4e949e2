// The sandbox page: fault rules (add, list, clear), the request journal (by client, newest
// first) and the reset, all through the sandbox controls (/_reach/) with the console's admin
// token. An operator without it (read-only, or not granted every advertiser) sees the controls
// disabled, and why.
import {
  ApiError,
  SANDBOX_REFUSAL,
  busy,
  call,
  clearProblems,
  context,
  el,
  formatNumber,
  notify,
  showProblems,
} from "./console.js";

const $ = (id) => document.getElementById(id);
const admin = { admin: true };
const faultForm = $("fault-form");
const journalForm = $("journal-form");
const resetForm = $("reset-form");

// --- fault rules -------------------------------------------------------------------------------

// A number field as typed: a whole or decimal number is sent as a number, anything else as
// the text, for the sandbox to refuse with its reason.
function numberOrText(raw) {
  const value = raw.trim();
  return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
}

function faultRule() {
  const fields = faultForm.elements;
  const rule = {};
  for (const name of ["clientId", "operation"]) {
    if (fields[name].value.trim()) rule[name] = fields[name].value.trim();
  }
  if (fields.mode.value === "sequence") {
    rule.answers = fields.answers.value.split(",").map((a) => a.trim()).filter(Boolean);
  } else {
    for (const name of ["share", "count", "seed"]) {
      if (fields[name].value.trim()) rule[name] = numberOrText(fields[name].value);
    }
    rule.answer = fields.answer.value;
  }
  for (const name of ["delayMs", "retryAfterSeconds"]) {
    if (fields[name].value.trim()) rule[name] = numberOrText(fields[name].value);
  }
  return rule;
}

async function addFault(event) {
  event.preventDefault();
  clearProblems(faultForm);
  try {
    const answer = await busy(faultForm, call("POST", "/_reach/faults", faultRule(), admin));
    notify(`Fault rule ${answer.data.id} added.`, "success");
  } catch (error) {
    if (error instanceof ApiError) showProblems(faultForm, error.problems);
    else notify(`The rule was not added: ${error.message}`, "error");
    return;
  }
  await loadFaults();
}

function describeAnswers(rule) {
  const parts = [];
  if (rule.answers) parts.push(rule.answers.join(", "));
  else parts.push(`${rule.answer} for a share of ${rule.share}${rule.count ? `, ${formatNumber(rule.count)} at most` : ""} (seed ${rule.seed})`);
  if (rule.delayMs !== null && rule.delayMs !== undefined) parts.push(`delay ${formatNumber(rule.delayMs)} ms`);
  if (rule.retryAfterSeconds !== null && rule.retryAfterSeconds !== undefined) parts.push(`Retry-After ${rule.retryAfterSeconds} s`);
  return parts.join("; ");
}

async function loadFaults() {
  const table = $("faults-table");
  let rules;
  try {
    rules = (await busy(table, call("GET", "/_reach/faults", undefined, admin))).data;
  } catch (error) {
    notify(`The fault rules could not be read: ${error.message}`, "error");
    return;
  }
  table.querySelector("tbody").replaceChildren(
    ...rules.map((rule) =>
      el(
        "tr",
        {},
        el("td", {}, el("code", {}, rule.id)),
        el("td", {}, rule.clientId || "every client"),
        el("td", {}, rule.operation || "every operation"),
        el("td", {}, describeAnswers(rule)),
        el("td", { class: "number" }, formatNumber(rule.matched)),
        el("td", { class: "number" }, formatNumber(rule.fired)),
        el("td", {}, rule.exhausted ? "spent" : "live"),
      ),
    ),
  );
  table.hidden = rules.length === 0;
  $("faults-empty").hidden = rules.length > 0;
}

async function clearFaults() {
  try {
    const answer = await busy($("clear-faults"), call("DELETE", "/_reach/faults", undefined, admin));
    notify(`${formatNumber(answer.data.cleared)} fault rules cleared.`, "success");
  } catch (error) {
    notify(`The rules were not cleared: ${error.message}`, "error");
  }
  await loadFaults();
}

// --- journal -----------------------------------------------------------------------------------

const time = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: "UTC" });

function fillChoices(list, values) {
  list.replaceChildren(...[...values].sort().map((v) => el("option", { value: v })));
}

// Each read of the journal is numbered: an answer to an earlier choice is dropped.
let journalReads = 0;

async function loadJournal(event) {
  if (event) event.preventDefault();
  const asked = ++journalReads;
  const table = $("journal-table");
  const client = $("journal-client").value;
  const limit = $("journal-limit").value;
  const query = new URLSearchParams({ limit });
  if (client) query.set("clientId", client);
  let entries;
  let everyone;
  try {
    [entries, everyone] = await busy(
      table,
      Promise.all([
        call("GET", `/_reach/journal?${query}`, undefined, admin).then((a) => a.data),
        // Every client's calls, for the clients and operations to choose from.
        client ? call("GET", "/_reach/journal", undefined, admin).then((a) => a.data) : null,
      ]),
    );
  } catch (error) {
    if (asked === journalReads) notify(`The journal could not be read: ${error.message}`, "error");
    return;
  }
  if (asked !== journalReads) return;
  const seen = everyone || entries;
  const clients = new Set(seen.map((e) => e.clientId).filter(Boolean));
  if (client) clients.add(client);
  const picker = $("journal-client");
  picker.replaceChildren(
    el("option", { value: "" }, "Every client"),
    ...[...clients].sort().map((c) => el("option", { value: c }, c)),
  );
  picker.value = client;
  fillChoices($("known-clients"), clients);
  fillChoices($("known-operations"), new Set(seen.map((e) => e.operation).filter(Boolean)));
  const rows = [...entries].reverse().map((e) =>
    el(
      "tr",
      {},
      el("td", { class: "number" }, formatNumber(e.sequence)),
      el("td", {}, el("time", { datetime: e.at }, `${time.format(new Date(e.at))} UTC`)),
      el("td", {}, e.clientId || "(no valid token)"),
      el("td", {}, el("div", {}, el("code", {}, `${e.method} ${e.path}`)), e.operation ? el("div", { class: "hint" }, e.operation) : null),
      el("td", { class: e.status >= 400 ? "number error" : "number" }, String(e.status)),
      el("td", {}, [...e.problemCodes, ...e.warningCodes.map((w) => `${w} (warning)`)].join(", ")),
      el("td", { class: "number" }, formatNumber(Math.round(e.durationMs))),
      el("td", {}, e.fault ? `${e.fault.kind} (rule ${e.fault.rule})` : ""),
      el("td", {}, bodyOf(e)),
    ),
  );
  table.querySelector("tbody").replaceChildren(...rows);
  table.hidden = rows.length === 0;
  $("journal-empty").hidden = rows.length > 0;
}

function bodyOf(entry) {
  if (entry.body === null || entry.body === undefined) return entry.bodyBytes ? `${formatNumber(entry.bodyBytes)} bytes` : "";
  const text = typeof entry.body === "string" ? entry.body : JSON.stringify(entry.body, null, 2);
  return el(
    "details",
    {},
    el("summary", {}, `${formatNumber(entry.bodyBytes)} bytes${entry.bodyTruncated ? " (truncated)" : ""}`),
    el("pre", { class: "journal-body" }, text),
  );
}

// --- reset ---------------------------------------------------------------------------------------

function askReset(event) {
  event.preventDefault();
  clearProblems(resetForm);
  const advertiser = resetForm.elements.advertiserId.value.trim();
  $("reset-message").textContent = advertiser
    ? `Every segment, audience and ad-set link that API clients created for advertiser ${advertiser} will be removed, for good.`
    : "Every segment, audience and ad-set link that API clients created, of every advertiser, will be removed for good, and the fault rules and the journal cleared.";
  const dialog = $("reset-dialog");
  dialog.returnValue = "";
  dialog.showModal();
  $("reset-keep").focus(); // the safe choice first
}

const RESET_COUNTS = [
  ["audienceSegments", "audience segments"],
  ["audiences", "audiences"],
  ["contactLists", "contact lists"],
  ["lookalikeResults", "lookalike results"],
  ["adSetLinks", "ad-set links"],
  ["faults", "fault rules"],
  ["journalEntries", "journal entries"],
];

async function onResetClosed() {
  const submit = resetForm.querySelector("button[type=submit]");
  if ($("reset-dialog").returnValue !== "reset") {
    submit.focus();
    return;
  }
  const advertiser = resetForm.elements.advertiserId.value.trim();
  try {
    const answer = await busy(
      resetForm,
      call("POST", "/_reach/reset", advertiser ? { advertiserId: advertiser } : undefined, admin),
    );
    const removed = answer.data;
    $("reset-result").replaceChildren(
      el("p", { class: "success" }, `Reset done (${removed.advertiserId ? `advertiser ${removed.advertiserId}` : "every advertiser"}). Removed:`),
      el("ul", { id: "reset-counts" }, ...RESET_COUNTS.map(([key, label]) => el("li", {}, `${formatNumber(removed[key])} ${label}`))),
    );
  } catch (error) {
    if (error instanceof ApiError) showProblems(resetForm, error.problems);
    else notify(`The reset failed: ${error.message}`, "error");
  }
  submit.focus();
  await Promise.all([loadFaults(), loadJournal()]);
}

// --- wiring --------------------------------------------------------------------------------------

function showMode() {
  const share = faultForm.elements.mode.value === "share";
  $("sequence-fields").hidden = share;
  $("share-fields").hidden = !share;
}

function start() {
  if (!faultForm) return; // no advertiser granted: nothing rendered
  if (!context.sandboxAdmin) {
    // Without an admin token, even reading the rules and the journal is out of reach.
    for (const node of document.querySelectorAll("[data-admin], [data-write]")) {
      node.disabled = true;
      node.title = SANDBOX_REFUSAL;
    }
    $("faults-table").hidden = true;
    $("journal-table").hidden = true;
    return;
  }
  for (const radio of faultForm.elements.mode) radio.addEventListener("change", showMode);
  faultForm.addEventListener("submit", addFault);
  $("refresh-faults").addEventListener("click", loadFaults);
  $("clear-faults").addEventListener("click", clearFaults);
  journalForm.addEventListener("submit", loadJournal);
  $("journal-client").addEventListener("change", () => loadJournal());
  resetForm.addEventListener("submit", askReset);
  $("reset-dialog").addEventListener("close", onResetClosed);
  loadFaults();
  loadJournal();
}

start();
