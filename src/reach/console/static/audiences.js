// The Audiences page: the advertiser's audiences with their sizes, and a builder that edits an
// audience's algebra as a tree (drag and drop, or the buttons of each node by keyboard). After
// each edit one call of /console/api/sizes sizes every node of the tree and every pair of its
// segments (the overlap matrix): the numbers on screen are always the server's answers.

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
  sizeAlgebras,
  timeOf,
} from "./console.js";

// The API's largest search page (REACH_SEARCH_MAX_LIMIT's default).
const SEARCH_PAGE = 100;
// Edits closer together than this share one sizes call (the first is asked at once).
const SIZES_DELAY_MS = 120;
// The overlap matrix shows the pairs of at most this many segments (66 pairs).
const MAX_OVERLAP = 12;
const SEGMENT_MIME = "application/x-reach-segment";
const NODE_MIME = "application/x-reach-node";
const KIND_LABELS = { and: "All of", or: "Any of", not: "Not" };
// What to do about each problem of an algebra (the API says what is wrong).
const ADVICE = {
  "algebra-invalid-node": "Add a segment or a group to it, or remove it.",
  "algebra-misplaced-not": "Put the “Not” inside an “All of” group, beside what it removes people from.",
  "algebra-no-positive-term": "Add a segment or a group that is not a “Not” to this group.",
  "algebra-too-deep": "Remove a level of groups: move its terms up, then remove the empty group.",
  "algebra-too-many-leaves": "Use fewer segments.",
  "segment-not-found": "Remove this segment: it was deleted or belongs to another advertiser.",
};

const $ = (id) => document.getElementById(id);
const form = $("audience-form");
const treeRoot = $("tree");

const state = {
  segments: [],
  segmentById: new Map(),
  audiences: [],
  audienceSizes: new Map(), // id -> {size, errors, warnings}
  editing: null, // the audience open in the builder (null: a new one)
  tree: null,
  target: null, // the key of the group "Add" puts segments into
  sizes: new Map(), // node key -> {size, warnings, problems: [{detail, code}]}
  overlap: null, // {ids, capped, cells: Map("a|b" -> answer)}
};

let nextKey = 1;
function node(kind, extra = {}) {
  return { key: `n${nextKey++}`, kind, children: [], segmentId: null, ...extra };
}

// --- the list ------------------------------------------------------------------------------

async function loadSegments() {
  try {
    state.segments = await searchAll("/audience-segments/search", { advertiserIds: [context.advertiserId] }, SEARCH_PAGE);
  } catch (error) {
    notify(`The segments could not be read: ${error.message}`, "error");
    state.segments = [];
  }
  state.segments.sort((a, b) => a.attributes.name.localeCompare(b.attributes.name));
  state.segmentById = new Map(state.segments.map((s) => [s.id, s]));
  // No sizes here: a segment's size shows once it is in the tree (sizing every segment of the
  // advertiser at each visit would cost more than the page).
  renderPalette();
}

async function loadAudiences() {
  const wrap = $("list-wrap");
  try {
    state.audiences = await busy(wrap, searchAll("/audiences/search", { advertiserIds: [context.advertiserId] }, SEARCH_PAGE));
  } catch (error) {
    notify(`The audiences could not be read: ${error.message}`, "error");
    state.audiences = [];
  }
  state.audiences.sort((a, b) => a.attributes.name.localeCompare(b.attributes.name));
  renderList();
  if (!state.audiences.length) return;
  // Sizes through the console's route: a read-only operator sees them too.
  const chunk = state.audiences;
  try {
    const answers = await busy(wrap, sizeAlgebras(chunk.map((a) => a.attributes.algebra)));
    answers.forEach((sized, i) => state.audienceSizes.set(chunk[i].id, sized));
  } catch (error) {
    notify(`The audiences' sizes could not be read: ${error.message}`, "error");
  }
  renderList();
}

function leavesOf(algebra, found = []) {
  if (!algebra || typeof algebra !== "object") return found;
  if (algebra.audienceSegmentId) found.push(algebra.audienceSegmentId);
  for (const term of algebra.and || algebra.or || []) leavesOf(term, found);
  if (algebra.not) leavesOf(algebra.not, found);
  return found;
}

function renderList() {
  const body = $("audiences-table").querySelector("tbody");
  body.replaceChildren(
    ...state.audiences.map((audience) => {
      const a = audience.attributes;
      const sized = state.audienceSizes.get(audience.id);
      const size = el("span", { class: "size" }, sized ? sizeText(sized) : "…");
      return el(
        "tr",
        { dataset: { id: audience.id } },
        el("th", { scope: "row" }, a.name),
        el("td", { class: "number" }, size),
        el("td", { class: "number" }, formatNumber(new Set(leavesOf(a.algebra)).size)),
        el("td", {}, timeOf(a.updatedAt)),
        el(
          "td",
          { class: "actions" },
          el("button", { type: "button", class: "secondary", "aria-label": `Open “${a.name}”`, onclick: () => openAudience(audience) }, "Open"),
          el("button", { type: "button", class: "danger", "data-write": true, "aria-label": `Delete “${a.name}”`, onclick: () => askDelete(audience) }, "Delete"),
        ),
      );
    }),
  );
  const count = state.audiences.length;
  $("list-count").textContent = count ? `${formatNumber(count)} audience${count === 1 ? "" : "s"}` : "";
  const empty = $("list-empty");
  empty.hidden = count > 0;
  empty.textContent = context.readOnly
    ? "This advertiser has no audience yet."
    : "This advertiser has no audience yet: press “New audience” to combine its segments.";
  $("list-wrap").hidden = count === 0;
  applyReadOnly(body);
}

// A size, or "—" when the answer has none (a refused algebra, a size withheld): the reason is
// the node's problem, or the answer's warnings about the size (``sizeWhy``).
function sizeText(sized) {
  if ((sized.errors && sized.errors.length) || sized.size === null || sized.size === undefined) return "—";
  return formatNumber(sized.size);
}

function sizeWhy(sized) {
  const about = (sized.warnings || []).filter((w) => Object.values(w.source || {}).some((p) => String(p).endsWith("size")));
  return about.map((w) => w.detail || w.title).join(" ");
}

// --- delete, behind a confirmation ------------------------------------------------------------

let deleting = null;

function askDelete(audience) {
  deleting = audience;
  $("confirm-text").textContent = `Delete the audience “${audience.attributes.name}”? This cannot be undone.`;
  $("confirm-delete").hidden = false;
  $("confirm-no").focus();
}

function closeConfirm() {
  $("confirm-delete").hidden = true;
  deleting = null;
}

async function confirmDelete() {
  const audience = deleting;
  closeConfirm();
  if (!audience) return;
  try {
    const answer = await call("POST", "/audiences/delete", { data: [{ id: audience.id, type: "Audience" }] });
    if (answer && answer.errors && answer.errors.length) {
      notify(`“${audience.attributes.name}” was not deleted: ${answer.errors.map((e) => e.detail || e.title).join(" ")}`, "error");
      return;
    }
  } catch (error) {
    notify(`“${audience.attributes.name}” was not deleted: ${error.message}`, "error");
    return;
  }
  notify(`Deleted “${audience.attributes.name}”.`, "success");
  if (state.editing && state.editing.id === audience.id) closeBuilder();
  await loadAudiences();
}

// --- the tree model ---------------------------------------------------------------------------

function fromAlgebra(algebra) {
  if (algebra.audienceSegmentId) return node("segment", { segmentId: algebra.audienceSegmentId });
  if (algebra.not) {
    const made = node("not");
    made.children = [fromAlgebra(algebra.not)];
    return made;
  }
  const kind = algebra.and ? "and" : "or";
  const made = node(kind);
  made.children = (algebra[kind] || []).map(fromAlgebra);
  return made;
}

function toAlgebra(n) {
  if (n.kind === "segment") return { audienceSegmentId: n.segmentId };
  if (n.kind === "not") return { not: n.children[0] ? toAlgebra(n.children[0]) : null };
  return { [n.kind]: n.children.map(toAlgebra) };
}

function* walk(n, parent = null) {
  yield [n, parent];
  for (const child of n.children) yield* walk(child, n);
}

function find(key) {
  for (const [n, parent] of walk(state.tree)) if (n.key === key) return [n, parent];
  return [null, null];
}

function contains(n, key) {
  for (const [inner] of walk(n)) if (inner.key === key) return true;
  return false;
}

function isGroup(n) {
  return n.kind === "and" || n.kind === "or";
}

function title(n) {
  if (n.kind === "segment") {
    const segment = state.segmentById.get(n.segmentId);
    return segment ? segment.attributes.name : `Segment ${n.segmentId}`;
  }
  return KIND_LABELS[n.kind];
}

// --- edits ------------------------------------------------------------------------------------

let focusAfter = null;

// Every change of the tree: the time of its input event, a new number, the tree drawn again,
// and its sizes asked.
function edited(event, focusKey = null) {
  const seq = Number(treeRoot.dataset.editSeq) + 1;
  treeRoot.dataset.editSeq = String(seq);
  sizes.editedAt = event && event.timeStamp ? event.timeStamp : performance.now();
  focusAfter = focusKey;
  // The call goes first; the tree is drawn while the server answers.
  sizes.ask();
  setTimeout(renderTree, 0);
}

function addSegment(event, segmentId, groupKey = state.target) {
  let [group] = find(groupKey);
  if (!group || !isGroup(group)) group = state.tree;
  const made = node("segment", { segmentId });
  group.children.push(made);
  edited(event, made.key);
}

function addGroup(event, parentKey) {
  const [parent] = find(parentKey);
  const made = node(parent.kind === "and" ? "or" : "and");
  parent.children.push(made);
  state.target = made.key;
  edited(event, made.key);
}

function setKind(event, key, kind) {
  const [n] = find(key);
  n.kind = kind;
  edited(event, key);
}

function toggleNot(event, key) {
  const [n, parent] = find(key);
  if (n.kind === "not") {
    // Unwrap: the term takes the place of the "not".
    const term = n.children[0];
    if (parent) parent.children[parent.children.indexOf(n)] = term;
    else state.tree = term;
    edited(event, term.key);
    return;
  }
  const wrapper = node("not");
  wrapper.children = [n];
  if (parent) parent.children[parent.children.indexOf(n)] = wrapper;
  else state.tree = wrapper;
  edited(event, n.key);
}

function move(event, key, step) {
  const [n, parent] = find(key);
  const at = parent.children.indexOf(n);
  const to = at + step;
  if (to < 0 || to >= parent.children.length) return;
  parent.children.splice(at, 1);
  parent.children.splice(to, 0, n);
  edited(event, key);
}

function remove(event, key) {
  const [n, parent] = find(key);
  if (!parent) return;
  const at = parent.children.indexOf(n);
  if (parent.kind === "not") {
    // A "not" without its term is nothing: remove it too.
    remove(event, parent.key);
    return;
  }
  parent.children.splice(at, 1);
  if (contains(n, state.target)) state.target = parent.key;
  const neighbour = parent.children[Math.min(at, parent.children.length - 1)];
  edited(event, neighbour ? neighbour.key : parent.key);
}

// Moves node ``key`` to the end of group ``groupKey`` (by drag and drop).
function moveInto(event, key, groupKey) {
  const [n, parent] = find(key);
  const [group] = find(groupKey);
  if (!n || !group || !parent || contains(n, groupKey) || parent === group) return;
  if (parent.kind === "not") {
    remove(event, key); // the "not" goes with it
  } else {
    parent.children.splice(parent.children.indexOf(n), 1);
  }
  group.children.push(n);
  edited(event, key);
}

// --- drawing the tree -------------------------------------------------------------------------

function renderTree() {
  const drawn = drawNode(state.tree, null, 0);
  treeRoot.replaceChildren(drawn);
  const [target] = find(state.target);
  $("target-name").textContent = target && target !== state.tree ? `the selected “${title(target)}” group` : "the root";
  showSizes();
  for (const span of treeRoot.querySelectorAll(".size")) sizes.watch(span);
  if (focusAfter) {
    const focused = treeRoot.querySelector(`[data-key="${focusAfter}"]`);
    if (focused) focused.focus();
    focusAfter = null;
  }
}

function button(label, name, onclick, extra = {}) {
  return el("button", { type: "button", class: "secondary small", "aria-label": name, onclick, ...extra }, label);
}

function drawNode(n, parent, depth) {
  const key = n.key;
  const name = title(n);
  const label = el("span", { class: "node-title", id: `${key}-title` }, name);
  const head = el("div", { class: "node-head" });
  if (isGroup(n)) {
    const select = el(
      "select",
      { id: `${key}-kind`, "aria-label": `How the “${name}” group combines its terms`, onchange: (e) => setKind(e, key, e.target.value) },
      el("option", { value: "and" }, "All of (and)"),
      el("option", { value: "or" }, "Any of (or)"),
    );
    select.value = n.kind;
    head.append(el("span", { class: "visually-hidden", id: `${key}-title` }, name), select);
    label.removeAttribute("id");
  } else {
    head.append(label);
    if (n.kind === "segment") {
      const segment = state.segmentById.get(n.segmentId);
      if (segment) head.append(el("span", { class: "node-type" }, segment.attributes.type));
    } else {
      head.append(el("span", { class: "node-type" }, "removes these people"));
    }
  }
  head.append(el("span", { class: "size", id: `${key}-size`, "aria-label": "people" }, "…"));
  const tools = el("span", { class: "node-tools" });
  if (isGroup(n)) {
    tools.append(
      button("+ Segment", `Add a segment to the “${name}” group`, () => {
        state.target = key;
        renderTree();
        $("palette-filter").focus();
      }),
      button("+ Group", `Add a group inside the “${name}” group`, (e) => addGroup(e, key)),
    );
  }
  if (parent) {
    const siblings = parent.children;
    const at = siblings.indexOf(n);
    tools.append(
      button(n.kind === "not" ? "Remove not" : "Not", n.kind === "not" ? `Remove not around “${title(n.children[0] || n)}”` : `Wrap “${name}” in a “Not”`, (e) => toggleNot(e, key)),
      button("↑", `Move “${name}” up`, (e) => move(e, key, -1), { disabled: parent.kind === "not" || at === 0 }),
      button("↓", `Move “${name}” down`, (e) => move(e, key, 1), { disabled: parent.kind === "not" || at === siblings.length - 1 }),
      button("Remove", `Remove “${name}”`, (e) => remove(e, key)),
    );
  }
  head.append(tools);
  const item = el(
    "li",
    {
      class: `node node-${n.kind}${state.target === key ? " target" : ""}`,
      tabindex: "0",
      "aria-labelledby": `${key}-title ${key}-size`,
      "aria-describedby": `${key}-problem`,
      dataset: { key, kind: n.kind, depth: String(depth) },
      draggable: parent ? "true" : "false",
    },
    head,
    el("p", { class: "node-problem", id: `${key}-problem`, hidden: true }),
  );
  if (n.kind === "segment") item.dataset.segmentId = n.segmentId;
  if (n.kind !== "segment") {
    const list = el("ul", { class: "children", "aria-label": `Terms of “${name}”` }, ...n.children.map((c) => drawNode(c, n, depth + 1)));
    if (isGroup(n) && !n.children.length) {
      list.append(el("li", { class: "drop-hint" }, "Drop segments here"));
    }
    item.append(list);
  }
  if (parent) {
    item.addEventListener("dragstart", (e) => {
      e.stopPropagation();
      e.dataTransfer.setData(NODE_MIME, key);
      e.dataTransfer.effectAllowed = "move";
    });
  }
  if (isGroup(n)) {
    item.addEventListener("dragover", (e) => {
      if (![...e.dataTransfer.types].some((t) => t === SEGMENT_MIME || t === NODE_MIME)) return;
      e.preventDefault();
      e.stopPropagation();
      item.classList.add("drop-here");
    });
    item.addEventListener("dragleave", (e) => {
      e.stopPropagation();
      item.classList.remove("drop-here");
    });
    item.addEventListener("drop", (e) => {
      e.preventDefault();
      e.stopPropagation();
      item.classList.remove("drop-here");
      const segmentId = e.dataTransfer.getData(SEGMENT_MIME);
      const moved = e.dataTransfer.getData(NODE_MIME);
      if (segmentId) addSegment(e, segmentId, key);
      else if (moved) moveInto(e, moved, key);
    });
    item.addEventListener("focus", (e) => {
      if (e.target === item && state.target !== key) {
        state.target = key;
        for (const other of treeRoot.querySelectorAll(".node.target")) other.classList.remove("target");
        item.classList.add("target");
        $("target-name").textContent = n === state.tree ? "the root" : `the selected “${title(n)}” group`;
      }
    });
  }
  item.addEventListener("keydown", (e) => {
    if (e.target !== item) return;
    if (e.key === "Delete" && parent) {
      e.preventDefault();
      remove(e, key);
    } else if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown") && parent && parent.kind !== "not") {
      e.preventDefault();
      move(e, key, e.key === "ArrowUp" ? -1 : 1);
    } else if (e.key === "ArrowUp" || e.key === "ArrowDown") {
      e.preventDefault();
      const nodes = [...treeRoot.querySelectorAll(".node")];
      const next = nodes[nodes.indexOf(item) + (e.key === "ArrowUp" ? -1 : 1)];
      if (next) next.focus();
    }
  });
  return item;
}

// --- the palette ----------------------------------------------------------------------------

function renderPalette() {
  const wanted = $("palette-filter").value.trim().toLowerCase();
  const shown = state.segments.filter((s) => !wanted || s.attributes.name.toLowerCase().includes(wanted));
  $("palette").replaceChildren(
    ...shown.map((segment) => {
      const a = segment.attributes;
      const item = el(
        "li",
        { draggable: "true", class: "palette-item", dataset: { segmentId: segment.id } },
        el("span", { class: "palette-name" }, a.name),
        el("span", { class: "node-type" }, a.type),
        el("button", { type: "button", class: "secondary small", "aria-label": `Add “${a.name}” to the target group`, onclick: (e) => addSegment(e, segment.id) }, "Add"),
      );
      item.addEventListener("dragstart", (e) => {
        e.dataTransfer.setData(SEGMENT_MIME, segment.id);
        e.dataTransfer.effectAllowed = "copy";
      });
      return item;
    }),
  );
  const empty = $("palette-empty");
  empty.hidden = shown.length > 0;
  empty.textContent = state.segments.length
    ? "No segment's name holds these words: change the search."
    : "This advertiser has no segment yet: create some on the Segments page first.";
}

// --- sizes ------------------------------------------------------------------------------------

// One call per burst of edits: an edit is asked at once when no call is unanswered; edits that
// come while one is, wait until SIZES_DELAY_MS after it was sent, and share one call. A newer edit aborts the call of an older one,
// and an answer is shown only if no edit came after the one it answers.
const sizes = {
  editedAt: 0,
  lastSent: -Infinity,
  timer: null,
  controller: null,
  inFlight: false,
  pending: null, // the unanswered call, for the spinners of nodes drawn meanwhile

  // A spinner on ``element`` if the unanswered call takes long (busy() in console.js).
  watch(element) {
    if (this.pending) busy(element, this.pending);
  },

  ask() {
    treeRoot.dataset.sizesState = "pending";
    if (this.timer) return;
    // Nothing asked and unanswered: ask at once. Otherwise the edits of a burst share one call.
    const wait = this.inFlight ? Math.max(0, this.lastSent + SIZES_DELAY_MS - performance.now()) : 0;
    if (wait === 0) this.send();
    else this.timer = setTimeout(() => this.send(), wait);
  },

  async send() {
    this.timer = null;
    this.lastSent = performance.now();
    if (this.controller) this.controller.abort();
    const controller = (this.controller = new AbortController());
    const seq = Number(treeRoot.dataset.editSeq);
    const editedAt = this.editedAt;
    const questions = new Map(); // JSON of an algebra -> its index in the call
    const ask = (algebra) => {
      const text = JSON.stringify(algebra);
      if (!questions.has(text)) questions.set(text, questions.size);
      return questions.get(text);
    };
    const byNode = [];
    for (const [n] of walk(state.tree)) {
      // A "not" shows the size of what it removes (a "not" alone has no size).
      const asked = n.kind === "not" ? n.children[0] : n;
      if (asked) byNode.push([n, asked, ask(toAlgebra(asked))]);
    }
    const ids = [...new Set([...walk(state.tree)].filter(([n]) => n.kind === "segment").map(([n]) => n.segmentId))];
    const overlapIds = ids.slice(0, MAX_OVERLAP);
    const pairs = [];
    for (const [i, a] of overlapIds.entries()) {
      for (const b of overlapIds.slice(i)) {
        pairs.push([a, b, ask(a === b ? { audienceSegmentId: a } : { and: [{ audienceSegmentId: a }, { audienceSegmentId: b }] })]);
      }
    }
    const request = sizeAlgebras([...questions.keys()].map((t) => JSON.parse(t)), {
      signal: controller.signal,
    }).then((algebras) => ({ data: { algebras } }));
    const pending = (this.pending = request.catch(() => null));
    pending.then(() => {
      if (this.pending === pending) this.pending = null;
    });
    this.watch($("overlap-table"));
    let answer;
    this.inFlight = true;
    request.finally(() => {
      if (this.controller === controller) this.inFlight = false;
    }).catch(() => {});
    try {
      answer = await request;
    } catch (error) {
      if (error.name === "AbortError") return;
      if (seq === Number(treeRoot.dataset.editSeq)) {
        treeRoot.dataset.sizesState = "failed";
        $("tree-status").textContent = `The sizes could not be computed: ${error.message}. Edit the tree or reload the page to try again.`;
      }
      return;
    }
    if (seq !== Number(treeRoot.dataset.editSeq)) return; // an edit came since: its call will answer
    const answers = answer.data.algebras;
    state.sizes = new Map();
    for (const [n] of walk(state.tree)) state.sizes.set(n.key, { size: null, warnings: [], problems: [], errors: [] });
    for (const [n, asked, index] of byNode) {
      const sized = answers[index];
      const entry = state.sizes.get(n.key);
      entry.size = sized.size;
      entry.warnings = sized.warnings;
      entry.errors = sized.errors;
      for (const problem of sized.errors) placeProblem(asked, problem);
    }
    const cells = new Map();
    for (const [a, b, index] of pairs) {
      cells.set(`${a}|${b}`, answers[index]);
      cells.set(`${b}|${a}`, answers[index]);
    }
    state.overlap = { ids: overlapIds, total: ids.length, cells };
    showSizes();
    renderOverlap();
    treeRoot.dataset.sizesSeq = String(seq);
    treeRoot.dataset.sizesState = "ready";
    $("tree-status").textContent = "";
    performance.mark("sizes-drawn", { detail: { seq } });
    // Marked once the browser has drawn the new numbers.
    requestAnimationFrame(() =>
      setTimeout(() => {
        if (seq !== Number(treeRoot.dataset.editSeq)) return;
        performance.mark("sizes-shown", { detail: { seq } });
        performance.measure("edit-to-sizes", { start: editedAt, end: performance.now(), detail: { seq } });
        treeRoot.dataset.sizesShown = String(seq);
      }, 0),
    );
  },
};

// A problem of an algebra goes to the node its pointer names (``.../algebra/and/1/not``),
// under the node whose algebra was asked.
function placeProblem(asked, problem) {
  const pointer = Object.values(problem.source || {}).map(String).find((p) => p.includes("algebra")) || "";
  const steps = pointer.split("algebra").slice(1).join("algebra").split("/").filter(Boolean);
  let at = asked;
  for (let i = 0; i < steps.length; i += 1) {
    const step = steps[i];
    let next = null;
    if (step === "not") next = at.children[0];
    else if ((step === "and" || step === "or") && /^\d+$/.test(steps[i + 1] || "")) {
      next = at.children[Number(steps[i + 1])];
      i += 1;
    }
    if (!next) break;
    at = next;
  }
  const entry = state.sizes.get(at.key);
  if (!entry) return;
  const detail = problem.detail || problem.title || "Refused";
  if (!entry.problems.some((p) => p.detail === detail)) entry.problems.push({ detail, code: problem.code });
}

function showSizes() {
  for (const item of treeRoot.querySelectorAll(".node")) {
    const key = item.dataset.key;
    const sized = state.sizes.get(key);
    const span = document.getElementById(`${key}-size`);
    const note = document.getElementById(`${key}-problem`);
    if (!sized) continue;
    const text = sizeText(sized);
    span.textContent = text;
    span.setAttribute("aria-label", text === "—" ? "no size" : `${text} people`);
    const why = sized.errors.length ? "" : sizeWhy(sized);
    if (why) span.title = why;
    else span.removeAttribute("title");
    if (sized.size !== null && !sized.errors.length) span.dataset.size = String(sized.size);
    else delete span.dataset.size;
    item.classList.toggle("has-problem", sized.problems.length > 0);
    note.hidden = sized.problems.length === 0;
    note.textContent = sized.problems.map((p) => `${p.detail}. ${ADVICE[p.code] || ""}`.replace(/\.\. /, ". ").trim()).join(" ");
  }
}

function renderOverlap() {
  const section = $("overlap");
  section.hidden = false;
  const { ids, total, cells } = state.overlap;
  const table = $("overlap-table");
  const capped = $("overlap-capped");
  capped.hidden = total <= ids.length;
  capped.textContent = `The audience has ${formatNumber(total)} segments: the matrix shows the first ${ids.length} of the tree.`;
  $("overlap-empty").hidden = ids.length > 0;
  table.hidden = ids.length === 0;
  const name = (id) => {
    const segment = state.segmentById.get(id);
    return segment ? segment.attributes.name : `Segment ${id}`;
  };
  table.querySelector("thead").replaceChildren(
    el("tr", {}, el("td", {}), ...ids.map((id) => el("th", { scope: "col", dataset: { segmentId: id } }, name(id)))),
  );
  table.querySelector("tbody").replaceChildren(
    ...ids.map((row) =>
      el(
        "tr",
        { dataset: { segmentId: row } },
        el("th", { scope: "row" }, name(row)),
        ...ids.map((col) => {
          const sized = cells.get(`${row}|${col}`);
          const cell = el("td", { class: `number${row === col ? " diagonal" : ""}`, dataset: { row, col } }, el("span", { class: "size", title: sized ? sizeWhy(sized) || null : null }, sized ? sizeText(sized) : "—"));
          if (sized && sized.size !== null) cell.dataset.size = String(sized.size);
          return cell;
        }),
      ),
    ),
  );
}

// --- the builder ------------------------------------------------------------------------------

function openBuilder(audience) {
  state.editing = audience;
  clearProblems(form);
  $("builder").hidden = false;
  $("builder-heading").textContent = audience ? `Audience “${audience.attributes.name}”` : "New audience";
  $("audience-name").value = audience ? audience.attributes.name : "";
  $("audience-description").value = audience ? audience.attributes.description || "" : "";
  $("delete").hidden = !audience;
  $("save").textContent = audience ? "Save changes" : "Create audience";
  state.tree = audience ? fromAlgebra(audience.attributes.algebra) : node("and");
  state.target = state.tree.key;
  state.sizes = new Map();
  edited(null);
  applyReadOnly(form);
  $("builder-heading").focus();
  const url = new URL(location.href);
  if (audience) url.searchParams.set("audience", audience.id);
  else url.searchParams.delete("audience");
  history.replaceState(null, "", url);
}

function openAudience(audience) {
  openBuilder(audience);
}

function closeBuilder() {
  state.editing = null;
  $("builder").hidden = true;
  $("overlap").hidden = true;
  const url = new URL(location.href);
  url.searchParams.delete("audience");
  history.replaceState(null, "", url);
}

async function save(event) {
  event.preventDefault();
  clearProblems(form);
  const editing = state.editing;
  const name = $("audience-name").value;
  const description = $("audience-description").value;
  const algebra = toAlgebra(state.tree);
  const body = editing
    ? { data: [{ id: editing.id, type: "Audience", attributes: { name, description: { value: description.trim() === "" ? null : description }, algebra } }] }
    : { data: [{ type: "Audience", attributes: { advertiserId: context.advertiserId, name, algebra, ...(description.trim() ? { description } : {}) } }] };
  let answer;
  try {
    answer = await busy($("save"), call(editing ? "PATCH" : "POST", editing ? "/audiences" : "/audiences/create", body));
  } catch (error) {
    if (error instanceof ApiError) {
      refused(error.problems);
      return;
    }
    throw error;
  }
  if (answer.errors && answer.errors.length) {
    refused(answer.errors);
    return;
  }
  const saved = answer.data[0];
  notify(editing ? `Saved “${name}”.` : `Created “${name}”.`, "success");
  await loadAudiences();
  const fresh = state.audiences.find((a) => a.id === saved.id);
  if (fresh) {
    state.editing = fresh;
    $("builder-heading").textContent = `Audience “${fresh.attributes.name}”`;
    $("delete").hidden = false;
    $("save").textContent = "Save changes";
    const url = new URL(location.href);
    url.searchParams.set("audience", fresh.id);
    history.replaceState(null, "", url);
  }
}

function refused(problems) {
  showProblems(form, problems);
  notify("The audience was not saved: see the problems beside the fields and on the tree's nodes.", "error");
}

// --- start ------------------------------------------------------------------------------------

$("new-audience").addEventListener("click", () => openBuilder(null));
$("refresh").addEventListener("click", () => loadAudiences());
$("close-builder").addEventListener("click", closeBuilder);
$("delete").addEventListener("click", () => state.editing && askDelete(state.editing));
$("confirm-yes").addEventListener("click", confirmDelete);
$("confirm-no").addEventListener("click", closeConfirm);
$("confirm-delete").addEventListener("keydown", (e) => e.key === "Escape" && closeConfirm());
$("palette-filter").addEventListener("input", renderPalette);
form.addEventListener("submit", save);
$("read-only-note").hidden = !context.readOnly;
applyReadOnly(document);

if (context.advertiserId) {
  await loadSegments();
  await loadAudiences();
  const asked = new URL(location.href).searchParams.get("audience");
  const audience = asked && state.audiences.find((a) => a.id === asked);
  if (audience) openBuilder(audience);
}
