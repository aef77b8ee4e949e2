// What every console page shares: its context, calls to the API with the operator's token,
// problems shown beside the fields they name, numbers, spinners and small DOM helpers.
// No build step: a plain ES module the pages import.

const data = document.body.dataset;

export const context = Object.freeze({
  advertiserId: data.advertiser || null,
  readOnly: data.readOnly === "true",
  // Whether the console gives this operator the sandbox's admin token (docs/console.md).
  sandboxAdmin: data.sandboxAdmin === "true",
  apiVersion: data.apiVersion,
  prefix: data.prefix || "/console",
  tiles: data.tiles || null,
  csrf: data.csrf,
});

// --- tokens --------------------------------------------------------------------------------

let issued = null; // {accessToken, adminToken, readOnly, expiresAt}
let pending = null;

async function fetchToken() {
  const answer = await fetch(`${context.prefix}/token`, {
    method: "POST",
    headers: { "X-CSRF-Token": context.csrf },
    credentials: "same-origin",
  });
  if (answer.status === 401) {
    window.location.assign(
      `${context.prefix}/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`,
    );
    throw new ApiError(401, [{ title: "Signed out", detail: "Your session has ended; sign in again." }]);
  }
  if (!answer.ok) {
    const body = await answer.json().catch(() => ({}));
    throw new ApiError(answer.status, [{ title: "Console", detail: body.error || "Reload the page." }]);
  }
  const body = await answer.json();
  // Renewed a minute before it ends.
  issued = { ...body, expiresAt: Date.now() + (body.expiresIn - 60) * 1000 };
  return issued;
}

async function currentToken(renew = false) {
  if (!renew && issued && Date.now() < issued.expiresAt) return issued;
  if (!pending) pending = fetchToken().finally(() => (pending = null));
  return pending;
}

export const SANDBOX_REFUSAL = context.readOnly
  ? "A read-only operator cannot use the sandbox controls."
  : "The sandbox controls act on the whole server: the console opens them only to an operator granted every advertiser.";

// --- calls ---------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, problems, warnings = []) {
    super(problems.map((p) => p.detail || p.title).join("; ") || `HTTP ${status}`);
    this.status = status;
    this.problems = problems;
    this.warnings = warnings;
  }
}

// A path of the Criteo API ("/audience-segments/search") becomes the versioned URL; paths of
// the console's own API ("/console/api/...") and the sandbox controls ("/_reach/...") stay.
export function url(path) {
  if (path.startsWith("/console/") || path.startsWith("/_reach/")) return path;
  return `/${context.apiVersion}/marketing-solutions${path}`;
}

// One call: the parsed answer (null when it has no body). A refusal throws ApiError with the
// answer's problems (the Criteo envelope's errors). ``admin`` sends the sandbox admin token.
export async function call(method, path, body = undefined, { admin = false, signal, raw = false } = {}) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const token = await currentToken(attempt > 0);
    const bearer = admin ? token.adminToken : token.accessToken;
    if (admin && !bearer) {
      throw new ApiError(403, [{ title: "Sandbox", detail: SANDBOX_REFUSAL }]);
    }
    const headers = { Authorization: `Bearer ${bearer}`, Accept: "application/json" };
    let payload;
    if (body !== undefined) {
      if (raw) {
        payload = body;
      } else {
        headers["Content-Type"] = "application/json";
        payload = JSON.stringify(body);
      }
    }
    const answer = await fetch(url(path), { method, headers, body: payload, signal });
    if (answer.status === 401 && attempt === 0) continue; // expired: renew once
    const text = await answer.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (e.g. a proxy's error page): a refusal in words, an answer we cannot read.
      const detail = `The server answered ${answer.status} with a body that is not JSON; try again.`;
      throw new ApiError(answer.status, [{ title: `HTTP ${answer.status}`, detail }]);
    }
    if (!answer.ok) {
      const problems = (parsed && parsed.errors) || [{ title: `HTTP ${answer.status}`, detail: text }];
      throw new ApiError(answer.status, problems, (parsed && parsed.warnings) || []);
    }
    return parsed;
  }
  throw new ApiError(401, [{ detail: "The server refused the console's token; sign in again." }]);
}

// Every item of a search, page by page (the API's offset/limit paging).
// The API pages by at most 100 items.
export async function searchAll(path, attributes, limit = 100) {
  const found = [];
  for (let offset = 0; ; offset += limit) {
    const page = await call("POST", `${path}?limit=${limit}&offset=${offset}`, {
      data: { type: path.includes("audience-segments") ? "AudienceSegment" : "Audience", attributes },
    });
    found.push(...page.data);
    const total = page.meta && page.meta.totalItems;
    if (page.data.length < limit || (total !== undefined && found.length >= total)) return found;
  }
}

// The bounds of one /console/api/sizes call (src/reach/console/api.py).
const SIZES_MAX_QUESTIONS = 300;
const SIZES_MAX_LEAVES = 4096;

function leafCount(algebra) {
  if (!algebra || typeof algebra !== "object") return 0;
  const children = [...(algebra.and || []), ...(algebra.or || []), algebra.not];
  return (algebra.audienceSegmentId ? 1 : 0) + children.reduce((n, c) => n + leafCount(c), 0);
}

// The sizes of audience algebras of the page's advertiser, in the order asked: as many calls
// of /console/api/sizes as its bounds need (most pages need one).
export async function sizeAlgebras(algebras, { signal } = {}) {
  const batches = [[]];
  let leaves = 0;
  for (const algebra of algebras) {
    const cost = leafCount(algebra);
    const batch = batches[batches.length - 1];
    if (batch.length && (batch.length >= SIZES_MAX_QUESTIONS || leaves + cost > SIZES_MAX_LEAVES)) {
      batches.push([]);
      leaves = 0;
    }
    batches[batches.length - 1].push(algebra);
    leaves += cost;
  }
  const answers = await Promise.all(
    batches
      .filter((batch) => batch.length)
      .map((batch) =>
        call("POST", "/console/api/sizes", { advertiserId: context.advertiserId, algebras: batch }, { signal }),
      ),
  );
  return answers.flatMap((answer) => answer.data.algebras);
}

// --- problems beside their fields ----------------------------------------------------------

// A field is matched by ``data-pointer`` (the tail of the problem's JSON pointer, such as
// "attributes/name" or "location/radiusInMeters"), else by its ``name``. Problems that name
// no field of the form are listed in its ``.form-problems`` region.
export function showProblems(form, problems) {
  clearProblems(form);
  const general = [];
  for (const problem of problems) {
    const message = problem.detail || problem.title || "Refused";
    const field = fieldOf(form, problem.source || {});
    if (field) {
      markField(field, message);
    } else {
      general.push(message);
    }
  }
  const region = form.querySelector(".form-problems");
  if (region) {
    region.replaceChildren(...general.map((text) => el("li", {}, text)));
    region.hidden = general.length === 0;
  } else if (general.length) {
    notify(general.join(" "), "error");
  }
  const first = form.querySelector("[aria-invalid='true']");
  if (first) first.focus();
}

function fieldOf(form, source) {
  const fields = [...form.querySelectorAll("[data-pointer], [name]")];
  for (const [key, pointer] of Object.entries(source)) {
    const path = String(pointer);
    const byPointer = fields
      .filter((f) => f.dataset.pointer && (path === f.dataset.pointer || path.endsWith(`/${f.dataset.pointer}`)))
      .sort((a, b) => b.dataset.pointer.length - a.dataset.pointer.length)[0];
    if (byPointer) return byPointer;
    const byName = fields.find((f) => f.name === key);
    if (byName) return byName;
  }
  return null;
}

function markField(field, message) {
  field.setAttribute("aria-invalid", "true");
  const id = `${field.id || field.name}-problem`;
  let note = document.getElementById(id);
  if (!note) {
    note = el("p", { id, class: "field-problem" });
    field.insertAdjacentElement("afterend", note);
  }
  note.textContent = message;
  const described = new Set((field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
  described.add(id);
  field.setAttribute("aria-describedby", [...described].join(" "));
}

export function clearProblems(form) {
  for (const note of form.querySelectorAll(".field-problem")) note.remove();
  for (const field of form.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    const left = (field.getAttribute("aria-describedby") || "")
      .split(" ")
      .filter((id) => id && !id.endsWith("-problem"));
    if (left.length) field.setAttribute("aria-describedby", left.join(" "));
    else field.removeAttribute("aria-describedby");
  }
  const region = form.querySelector(".form-problems");
  if (region) {
    region.replaceChildren();
    region.hidden = true;
  }
}

// --- messages, numbers, waiting ------------------------------------------------------------

export function notify(message, kind = "info") {
  const region = document.getElementById("notice");
  region.className = `notice ${kind}`;
  region.textContent = message;
}

const numbers = new Intl.NumberFormat("en-US");

export function formatNumber(value) {
  return value === null || value === undefined ? "—" : numbers.format(value);
}

// A size as the API reported it: a number, or why there is none (a warning's detail).
export function formatSize(size, warnings = []) {
  if (size !== null && size !== undefined) return numbers.format(size);
  const why = warnings.find((w) => w.detail);
  return why ? `— (${why.detail})` : "—";
}

const dateTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

// A moment as every page shows it: "4 Dec 2026, 06:16 UTC", in a <time> element.
export function timeOf(iso) {
  const date = new Date(iso);
  return el("time", { datetime: iso }, Number.isNaN(date.getTime()) ? iso : `${dateTime.format(date)} UTC`);
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// Marks ``element`` busy while ``promise`` runs, with a spinner once it takes longer than
// ``after`` ms (answers faster than that never flicker).
export async function busy(element, promise, after = 200) {
  element.setAttribute("aria-busy", "true");
  const timer = setTimeout(() => element.classList.add("spinning"), after);
  try {
    return await promise;
  } finally {
    clearTimeout(timer);
    element.classList.remove("spinning");
    element.removeAttribute("aria-busy");
  }
}

// el("button", {type: "button", class: "x", onclick: fn}, "text", child...)
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

// A read-only operator sees the forms that change things disabled, with the reason.
export function applyReadOnly(root = document) {
  if (!context.readOnly) return;
  for (const node of root.querySelectorAll("[data-write]")) {
    node.setAttribute("disabled", "");
    node.setAttribute("title", "You are a read-only operator: you may look, not change.");
  }
}

export function onAdvertiserChange() {
  const select = document.getElementById("advertiser-select");
  if (select) select.addEventListener("change", () => select.form.requestSubmit());
}

onAdvertiserChange();
