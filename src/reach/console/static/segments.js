// The Segments page: the advertiser's segments with their sizes, and a form that creates and
// edits every creatable type. Every read and change is a call of the public API; the form shows
// the API's own problems beside the fields they name.

import {
  ApiError,
  applyReadOnly,
  busy,
  call,
  clearProblems,
  context,
  debounce,
  el,
  formatNumber,
  formatSize,
  notify,
  searchAll,
  showProblems,
  timeOf,
} from "./console.js";
import { LocationMap } from "./map.js";

const TYPE_LABELS = {
  Retargeting: "Events (retargeting)",
  Prospecting: "Prospecting",
  InMarket: "In-market",
  Location: "Location",
  Lookalike: "Lookalike",
  ContactList: "Contact list",
  Behavioral: "Behavioral",
  Unknown: "Unknown",
};
// The type object of each creatable type in the API's attributes.
const TYPE_KEYS = {
  Retargeting: "retargeting",
  Prospecting: "prospecting",
  InMarket: "inMarket",
  Location: "location",
  Lookalike: "lookalike",
  ContactList: "contactList",
};
// At most this many ids per /console/api/sizes call.
const SIZES_PER_CALL = 300;
const SEARCH_DELAY_MS = 200;
const MAX_OPTIONS = 50;

const $ = (id) => document.getElementById(id);
const form = $("segment-form");
const state = {
  segments: [],
  sizes: new Map(), // id -> {size, errors, warnings}
  editing: null, // the segment being edited, or null when creating
  points: [], // [{name, latitude, longitude}]
  brands: [], // [{id, name, size}] of the country asked
  interests: new Map(), // id -> {id, parentId, size, name, children: []}
  interestNames: null, // id -> {name, path} when the server names them
  catalogueCountry: null,
  chosenBrands: [],
  chosenInterests: [],
  openInterests: new Set(), // the categories opened in the tree
};

// --- the list ------------------------------------------------------------------------------

async function loadSegments() {
  const table = $("list-wrap");
  try {
    state.segments = await busy(table, searchAll("/audience-segments/search", { advertiserIds: [context.advertiserId] }));
  } catch (error) {
    notify(`The segments could not be read: ${error.message}`, "error");
    state.segments = [];
  }
  state.segments.sort((a, b) => a.attributes.name.localeCompare(b.attributes.name));
  renderList();
  fillSeedPicker();
  await loadSizes();
}

async function loadSizes() {
  const ids = state.segments.map((s) => s.id);
  state.sizes = new Map();
  $("list-wrap").dataset.sizes = "loading";
  for (let start = 0; start < ids.length; start += SIZES_PER_CALL) {
    const chunk = ids.slice(start, start + SIZES_PER_CALL);
    try {
      const answer = await call("POST", "/console/api/sizes", { advertiserId: context.advertiserId, segmentIds: chunk });
      for (const sized of answer.data.segments) state.sizes.set(sized.id, sized);
    } catch (error) {
      for (const id of chunk) state.sizes.set(id, { size: null, errors: error.problems || [], warnings: [] });
    }
  }
  $("list-wrap").dataset.sizes = "ready";
  // In place: a keyboard user's focus stays where it is.
  for (const tr of $("segments-table").querySelectorAll("tbody tr")) {
    tr.querySelector("td.number").replaceChildren(sizeCell(tr.dataset.id));
  }
  scheduleRecheck();
}

// A lookalike being computed has no size yet: its sizes are asked again a few times.
const RECHECK_MS = 5000;
const RECHECKS = 24;
const recheck = { timer: null, left: RECHECKS };

function scheduleRecheck() {
  clearTimeout(recheck.timer);
  const computing = [...state.sizes.values()].some((sized) =>
    (sized.warnings || []).some((w) => w.code === "lookalike-computing"),
  );
  if (!computing) {
    recheck.left = RECHECKS;
    return;
  }
  if (recheck.left <= 0) return;
  recheck.left -= 1;
  recheck.timer = setTimeout(loadSizes, RECHECK_MS);
}

function sizeCell(id) {
  const sized = state.sizes.get(id);
  const span = el("span", { class: "size" });
  if (!sized) {
    span.textContent = "…";
    span.setAttribute("aria-label", "size being computed");
    return span;
  }
  if (sized.errors && sized.errors.length) {
    span.textContent = `— (${sized.errors.map((e) => e.detail || e.title).join("; ")})`;
    span.classList.add("size-problem");
  } else {
    span.textContent = formatSize(sized.size, sized.warnings || []);
    if (sized.size === null || sized.size === undefined) span.classList.add("size-withheld");
  }
  const notes = (sized.warnings || []).map((w) => w.detail).filter(Boolean);
  if (notes.length) span.title = notes.join("\n");
  return span;
}

function filtered() {
  const type = $("filter-type").value;
  const words = $("filter-name").value.trim().toLocaleLowerCase();
  return state.segments.filter(
    (s) =>
      (!type || s.attributes.type === type) &&
      (!words || s.attributes.name.toLocaleLowerCase().includes(words)),
  );
}

function renderList() {
  const shown = filtered();
  const body = $("segments-table").querySelector("tbody");
  body.replaceChildren(
    ...shown.map((segment) => {
      const a = segment.attributes;
      const editable = a.type in TYPE_KEYS;
      return el(
        "tr",
        { dataset: { id: segment.id, type: a.type } },
        el("th", { scope: "row" }, el("span", { class: "segment-name" }, a.name), a.description ? el("span", { class: "hint block" }, a.description) : null),
        el("td", { dataset: { label: "Type" } }, TYPE_LABELS[a.type] || a.type),
        el("td", { class: "number", dataset: { label: "Size" } }, sizeCell(segment.id)),
        el("td", { dataset: { label: "Last update" } }, timeOf(a.updatedAt)),
        el(
          "td",
          { class: "row-actions" },
          editable
            ? el("button", { type: "button", class: "secondary", "data-write": true, "aria-label": `Edit ${a.name}`, onclick: () => startEdit(segment) }, "Edit")
            : null,
          el("button", { type: "button", class: "secondary danger-text", "data-write": true, "aria-label": `Delete ${a.name}`, onclick: () => confirmDelete(segment) }, "Delete"),
        ),
      );
    }),
  );
  const empty = $("list-empty");
  $("segments-table").hidden = shown.length === 0;
  empty.hidden = shown.length > 0;
  empty.textContent = state.segments.length
    ? "No segment matches these filters: clear the type or the name to see them all."
    : "No segments yet: create one below.";
  $("list-count").textContent = state.segments.length
    ? `${formatNumber(shown.length)} of ${formatNumber(state.segments.length)} segments shown.`
    : "";
  applyReadOnly(body);
}

// --- delete --------------------------------------------------------------------------------

function confirmDelete(segment) {
  const dialog = $("confirm-delete");
  $("confirm-text").textContent = `“${segment.attributes.name}” (${TYPE_LABELS[segment.attributes.type]}) will be deleted. Audiences that use it may refuse it.`;
  dialog.returnValue = "";
  dialog.addEventListener(
    "close",
    () => {
      if (dialog.returnValue === "delete") deleteSegment(segment);
    },
    { once: true },
  );
  dialog.showModal();
}

async function deleteSegment(segment) {
  try {
    const answer = await call("POST", "/audience-segments/delete", { data: [{ id: segment.id, type: "AudienceSegment" }] });
    const problems = answer.errors || [];
    if (problems.length) {
      notify(`“${segment.attributes.name}” was not deleted: ${problems.map((p) => p.detail || p.title).join(" ")}`, "error");
      return;
    }
    notify(`Deleted “${segment.attributes.name}”.`, "success");
    if (state.editing && state.editing.id === segment.id) resetForm();
  } catch (error) {
    notify(`“${segment.attributes.name}” was not deleted: ${error.message}`, "error");
  }
  await loadSegments();
}

// --- the form ------------------------------------------------------------------------------

function currentType() {
  return $("segment-type").value;
}

function showTypeFields() {
  const type = currentType();
  for (const fieldset of form.querySelectorAll(".type-fields")) {
    fieldset.hidden = fieldset.dataset.type !== type;
    fieldset.disabled = fieldset.dataset.type !== type;
  }
  if (type === "InMarket") loadCatalogues();
  if (type === "Location") drawMap();
}

const numberOrNull = (input) => (input.value.trim() === "" ? null : Number(input.value));

function typeObject(type, updating) {
  switch (type) {
    case "Retargeting":
      return {
        visitorsType: $("rt-visitors").value,
        daysSinceLastVisitMin: numberOrNull($("rt-min")),
        daysSinceLastVisitMax: numberOrNull($("rt-max")),
      };
    case "Prospecting": {
      const low = numberOrNull($("pr-min"));
      const high = numberOrNull($("pr-max"));
      // On update a day bound is {value: ...} (null clears it); on create a plain number.
      if (updating) {
        return { usersType: $("pr-users").value, daysSinceLastVisitMin: { value: low }, daysSinceLastVisitMax: { value: high } };
      }
      const spec = { usersType: $("pr-users").value };
      if (low !== null) spec.daysSinceLastVisitMin = low;
      if (high !== null) spec.daysSinceLastVisitMax = high;
      return spec;
    }
    case "InMarket": {
      const checked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
      const gender = $("im-gender").value || null;
      return {
        country: $("im-country").value.trim(),
        brandIds: state.chosenBrands.map((b) => b.id),
        interestIds: state.chosenInterests.slice(),
        buyingPower: checked("buyingPower"),
        priceRange: checked("priceRange"),
        ...(updating ? { gender: { value: gender } } : gender ? { gender } : {}),
      };
    }
    case "Location":
      return {
        pointsOfInterest: state.points.map((p) => ({
          name: p.name.trim() === "" ? null : p.name,
          latitude: Number.isFinite(p.latitude) ? p.latitude : null,
          longitude: Number.isFinite(p.longitude) ? p.longitude : null,
        })),
        radiusInKm: numberOrNull($("loc-radius")),
      };
    case "Lookalike": {
      const target = numberOrNull($("lal-target"));
      if (updating) return target === null ? null : { targetSize: target };
      return { seedSegmentId: $("lal-seed").value || null, ...(target === null ? {} : { targetSize: target }) };
    }
    case "ContactList":
      return updating ? null : {};
    default:
      return null;
  }
}

function requestBody() {
  const type = currentType();
  const key = TYPE_KEYS[type];
  const description = $("segment-description").value;
  if (state.editing) {
    const attributes = {
      name: $("segment-name").value,
      description: { value: description.trim() === "" ? null : description },
    };
    const spec = typeObject(type, true);
    if (spec !== null) attributes[key] = spec;
    return { data: [{ id: state.editing.id, type: "AudienceSegment", attributes }] };
  }
  const attributes = { advertiserId: context.advertiserId, name: $("segment-name").value, [key]: typeObject(type, false) };
  if (description.trim() !== "") attributes.description = description;
  return { data: [{ type: "AudienceSegment", attributes }] };
}

async function submit(event) {
  event.preventDefault();
  clearProblems(form);
  const editing = state.editing;
  const body = requestBody();
  let answer;
  try {
    answer = await busy($("submit-segment"), call(editing ? "PATCH" : "POST", editing ? "/audience-segments" : "/audience-segments/create", body));
  } catch (error) {
    if (error instanceof ApiError) {
      showProblems(form, error.problems);
      notify("The segment was not saved: see the problems in the form.", "error");
      return;
    }
    throw error;
  }
  // A bulk answer: the item's problems are in ``errors``, with an HTTP success.
  if (answer.errors && answer.errors.length) {
    showProblems(form, answer.errors);
    notify("The segment was not saved: see the problems in the form.", "error");
    return;
  }
  const saved = answer.data && answer.data[0];
  notify(editing ? `Saved “${saved.attributes.name}”.` : `Created “${saved.attributes.name}”.`, "success");
  resetForm();
  await loadSegments();
}

function resetForm() {
  state.editing = null;
  form.reset();
  clearProblems(form);
  state.points = [];
  state.chosenBrands = [];
  state.chosenInterests = [];
  $("segment-type").disabled = false;
  $("lal-seed").disabled = false;
  $("form-heading").textContent = "Create a segment";
  $("submit-segment").textContent = "Create segment";
  $("cancel-edit").hidden = true;
  renderPoints();
  renderChips();
  showTypeFields();
}

function startEdit(segment) {
  resetForm();
  const a = segment.attributes;
  state.editing = segment;
  $("segment-type").value = a.type;
  $("segment-type").disabled = true;
  $("segment-name").value = a.name;
  $("segment-description").value = a.description || "";
  const spec = a[TYPE_KEYS[a.type]] || {};
  const setNumber = (id, value) => ($(id).value = value === null || value === undefined ? "" : String(value));
  switch (a.type) {
    case "Retargeting":
      $("rt-visitors").value = spec.visitorsType;
      setNumber("rt-min", spec.daysSinceLastVisitMin);
      setNumber("rt-max", spec.daysSinceLastVisitMax);
      break;
    case "Prospecting":
      $("pr-users").value = spec.usersType;
      setNumber("pr-min", spec.daysSinceLastVisitMin);
      setNumber("pr-max", spec.daysSinceLastVisitMax);
      break;
    case "InMarket":
      $("im-country").value = spec.country;
      $("im-gender").value = spec.gender || "";
      for (const box of form.querySelectorAll('input[name="buyingPower"]')) box.checked = (spec.buyingPower || []).includes(box.value);
      for (const box of form.querySelectorAll('input[name="priceRange"]')) box.checked = (spec.priceRange || []).includes(box.value);
      state.chosenBrands = (spec.brandIds || []).map((id) => ({ id, name: null }));
      state.chosenInterests = (spec.interestIds || []).slice();
      break;
    case "Location":
      state.points = (spec.pointsOfInterest || []).map((p) => ({ name: p.name || "", latitude: p.latitude, longitude: p.longitude }));
      setNumber("loc-radius", spec.radiusInKm);
      break;
    case "Lookalike":
      $("lal-seed").value = spec.seedSegmentId;
      $("lal-seed").disabled = true;
      setNumber("lal-target", spec.targetSize);
      break;
    default:
      break;
  }
  $("form-heading").textContent = `Edit “${a.name}”`;
  $("submit-segment").textContent = "Save changes";
  $("cancel-edit").hidden = false;
  renderPoints();
  showTypeFields();
  renderChips();
  if (a.type === "Location" && mapView) mapView.fit();
  $("form-heading").scrollIntoView({ block: "start" });
  $("segment-name").focus();
}

function fillSeedPicker() {
  const select = $("lal-seed");
  const kept = select.value;
  select.replaceChildren(
    el("option", { value: "" }, state.segments.length ? "Choose a seed segment" : "No segment to start from yet"),
    ...state.segments.map((s) => el("option", { value: s.id }, `${s.attributes.name} (${TYPE_LABELS[s.attributes.type] || s.attributes.type})`)),
  );
  if (kept && state.segments.some((s) => s.id === kept)) select.value = kept;
}

// --- location: the map and the list of points ------------------------------------------------

let mapView = null;

function drawMap() {
  if (!mapView) {
    mapView = new LocationMap($("location-map"), {
      tiles: context.tiles,
      onAdd: (point) => {
        state.points.push({ name: "", ...point });
        renderPoints();
        notify(`Added point ${state.points.length} at ${point.latitude}, ${point.longitude}.`);
      },
    });
  }
  mapView.setPoints(state.points, numberOrNull($("loc-radius")));
}

function pointField(index, field, label, point) {
  const id = `point-${index}-${field}`;
  const numeric = field !== "name";
  const input = el("input", {
    id,
    type: numeric ? "number" : "text",
    step: numeric ? "any" : null,
    inputmode: numeric ? "decimal" : null,
    autocomplete: "off",
    value: numeric ? (Number.isFinite(point[field]) ? String(point[field]) : "") : point.name,
    dataset: { pointer: `pointsOfInterest/${index}/${field}` },
    oninput: (event) => {
      const raw = event.target.value;
      point[field] = numeric ? (raw.trim() === "" ? null : Number(raw)) : raw;
      if (mapView) mapView.setPoints(state.points, numberOrNull($("loc-radius")));
    },
  });
  return el("div", { class: `point-${field}` }, el("label", { for: id }, label), input);
}

function renderPoints() {
  const list = $("point-list");
  list.replaceChildren(
    ...state.points.map((point, index) =>
      el(
        "li",
        { class: "point" },
        pointField(index, "name", `Point ${index + 1} name (optional)`, point),
        pointField(index, "latitude", "Latitude", point),
        pointField(index, "longitude", "Longitude", point),
        el(
          "button",
          {
            type: "button",
            class: "secondary",
            "aria-label": `Remove point ${index + 1}`,
            onclick: () => {
              state.points.splice(index, 1);
              renderPoints();
              $("add-point").focus();
            },
          },
          "Remove",
        ),
      ),
    ),
  );
  $("points-empty").hidden = state.points.length > 0;
  if (mapView) mapView.setPoints(state.points, numberOrNull($("loc-radius")));
}

// --- in-market: brands and interests ----------------------------------------------------------

function catalogueQuery() {
  const country = $("im-country").value.trim();
  return `advertiser-id=${encodeURIComponent(context.advertiserId)}&country=${encodeURIComponent(country)}`;
}

async function loadCatalogues() {
  const country = $("im-country").value.trim();
  if (!country || country === state.catalogueCountry) return;
  state.catalogueCountry = country;
  const picker = $("interest-picker");
  $("brand-status").textContent = "Loading the brands…";
  $("interest-status").textContent = "Loading the interests…";
  try {
    const [brands, interests] = await busy(
      picker,
      Promise.all([
        call("GET", `/audience-segments/in-market-brands?${catalogueQuery()}`),
        call("GET", `/audience-segments/in-market-interests?${catalogueQuery()}`),
        loadInterestNames(),
      ]),
    );
    if (country !== $("im-country").value.trim()) return; // asked again meanwhile
    state.brands = brands.data.map((b) => ({ id: b.id, name: b.attributes.name, size: b.attributes.size }));
    state.brandWarnings = brands.warnings || [];
    buildInterests(interests.data);
    state.interestWarnings = interests.warnings || [];
  } catch (error) {
    if (country !== $("im-country").value.trim()) return; // asked again meanwhile
    state.catalogueCountry = null;
    state.brands = [];
    state.interests = new Map();
    const message = `The catalogues of '${country}' could not be read: ${error.message}`;
    $("brand-status").textContent = message;
    $("interest-status").textContent = message;
    renderBrandOptions();
    renderInterestTree();
    return;
  }
  for (const chosen of state.chosenBrands) {
    const known = state.brands.find((b) => b.id === chosen.id);
    if (known) chosen.name = known.name;
  }
  renderChips();
  renderBrandOptions();
  renderInterestTree();
}

// Interest names are not part of the API's list (it gives ids and parents): the console's
// own route names them when the server has it; otherwise they show as their ids.
async function loadInterestNames() {
  if (state.interestNames !== null) return;
  try {
    const answer = await call("GET", "/console/api/interest-names");
    state.interestNames = new Map(Object.entries(answer.data || {}));
  } catch {
    state.interestNames = new Map();
  }
}

function interestName(id) {
  const named = state.interestNames && state.interestNames.get(id);
  if (named) return typeof named === "string" ? named : named.name;
  return `Interest ${id}`;
}

function interestPath(id) {
  const parts = [];
  for (let node = state.interests.get(id); node; node = state.interests.get(node.parentId)) parts.unshift(interestName(node.id));
  return parts.join(" › ");
}

function buildInterests(data) {
  const nodes = new Map();
  for (const item of data) {
    nodes.set(item.id, { id: item.id, parentId: item.attributes.parentId || null, size: item.attributes.size, children: [] });
  }
  for (const node of nodes.values()) {
    if (node.parentId && nodes.has(node.parentId)) nodes.get(node.parentId).children.push(node.id);
  }
  state.interests = nodes;
}

function brandName(brand) {
  return brand.name || (state.brands.find((b) => b.id === brand.id) || {}).name || `Brand ${brand.id}`;
}

function renderChips() {
  const chip = (label, remove) =>
    el(
      "li",
      { class: "chip" },
      el("span", {}, label),
      el("button", { type: "button", class: "chip-remove", "aria-label": `Remove ${label}`, onclick: remove }, "×"),
    );
  $("brand-chips").replaceChildren(
    ...state.chosenBrands.map((brand) =>
      chip(brandName(brand), () => {
        state.chosenBrands = state.chosenBrands.filter((b) => b.id !== brand.id);
        renderChips();
        renderBrandOptions();
        $("brand-search").focus();
      }),
    ),
  );
  $("interest-chips").replaceChildren(
    ...state.chosenInterests.map((id) =>
      chip(interestPath(id) || interestName(id), () => {
        state.chosenInterests = state.chosenInterests.filter((i) => i !== id);
        renderChips();
        syncInterestBoxes();
        $("interest-search").focus();
      }),
    ),
  );
}

// The warnings of a list answer (sizes withheld below the privacy floor, an old index) as a
// sentence to append.
const notes = (warnings) => (warnings || []).map((w) => ` ${w.detail || w.title}`).join("");

const sizeNote = (size) => el("span", { class: "size" }, formatSize(size, []));

function renderBrandOptions() {
  const words = $("brand-search").value.trim().toLocaleLowerCase();
  const matching = state.brands.filter((b) => !words || b.name.toLocaleLowerCase().includes(words) || b.id === words);
  const shown = matching.slice(0, MAX_OPTIONS);
  $("brand-options").replaceChildren(
    ...shown.map((brand) => {
      const id = `brand-option-${brand.id}`;
      const box = el("input", {
        type: "checkbox",
        id,
        checked: state.chosenBrands.some((b) => b.id === brand.id),
        onchange: (event) => {
          if (event.target.checked) state.chosenBrands.push({ id: brand.id, name: brand.name });
          else state.chosenBrands = state.chosenBrands.filter((b) => b.id !== brand.id);
          renderChips();
        },
      });
      return el("li", { class: "option" }, box, el("label", { for: id }, brand.name), sizeNote(brand.size));
    }),
  );
  if (state.catalogueCountry) {
    $("brand-status").textContent = matching.length
      ? `${formatNumber(matching.length)} brands${matching.length > shown.length ? `, the first ${shown.length} shown: type to narrow` : ""}; sizes are people in ${state.catalogueCountry}.${notes(state.brandWarnings)}`
      : state.brands.length
        ? "No brand matches this search."
        : "The catalogue holds no brand.";
  }
}

// The tree: roots first; a category's children are rendered when it is opened. A search shows
// the matching interests as a flat list, with their paths.
function interestRow(node, depth, flat) {
  const id = `interest-${node.id}`;
  const open = !flat && node.children.length > 0 && state.openInterests.has(node.id);
  const row = el("li", {
    class: "tree-item",
    role: null,
    dataset: { id: node.id, depth: String(depth) },
  });
  const toggle = node.children.length && !flat
    ? el(
        "button",
        {
          type: "button",
          class: "tree-toggle",
          "aria-expanded": open ? "true" : "false",
          "aria-label": `${open ? "Close" : "Open"} ${interestName(node.id)}`,
          onclick: () => toggleInterest(node.id),
        },
        open ? "▾" : "▸",
      )
    : el("span", { class: "tree-spacer", "aria-hidden": "true" });
  const box = el("input", {
    type: "checkbox",
    id,
    class: "tree-box",
    checked: state.chosenInterests.includes(node.id),
    dataset: { id: node.id },
    onchange: (event) => {
      if (event.target.checked) {
        if (!state.chosenInterests.includes(node.id)) state.chosenInterests.push(node.id);
      } else {
        state.chosenInterests = state.chosenInterests.filter((i) => i !== node.id);
      }
      renderChips();
    },
  });
  const label = el("label", { for: id }, flat ? interestPath(node.id) : interestName(node.id));
  row.append(el("div", { class: "tree-row" }, toggle, box, label, sizeNote(node.size)));
  if (open) {
    row.append(el("ul", { class: "tree-children" }, ...node.children.map((child) => interestRow(state.interests.get(child), depth + 1, false))));
  }
  return row;
}

function toggleInterest(id, focus = true) {
  if (state.openInterests.has(id)) state.openInterests.delete(id);
  else state.openInterests.add(id);
  renderInterestTree();
  if (focus) {
    const box = document.getElementById(`interest-${id}`);
    if (box) box.focus();
  }
}

function renderInterestTree() {
  const tree = $("interest-tree");
  const words = $("interest-search").value.trim().toLocaleLowerCase();
  let rows;
  let total;
  if (words) {
    const matching = [...state.interests.values()].filter(
      (n) => n.id === words || interestName(n.id).toLocaleLowerCase().includes(words),
    );
    total = matching.length;
    rows = matching.slice(0, MAX_OPTIONS).map((n) => interestRow(n, 0, true));
    $("interest-status").textContent = total
      ? `${formatNumber(total)} interests match${total > rows.length ? `, the first ${rows.length} shown: type to narrow` : ""}.`
      : "No interest matches this search.";
  } else {
    const roots = [...state.interests.values()].filter((n) => !n.parentId);
    rows = roots.map((n) => interestRow(n, 0, false));
    if (state.catalogueCountry) {
      $("interest-status").textContent = `${formatNumber(state.interests.size)} interests; sizes are people in ${state.catalogueCountry}, including the categories below.${notes(state.interestWarnings)}`;
    }
  }
  tree.replaceChildren(...rows);
}

function syncInterestBoxes() {
  for (const box of $("interest-tree").querySelectorAll(".tree-box")) box.checked = state.chosenInterests.includes(box.dataset.id);
}

// Up and Down move between the categories shown, Right opens one (or goes to its first
// child), Left closes it (or goes to its parent); Space chooses it (the checkbox's own key).
function treeKeys(event) {
  const box = event.target.closest(".tree-box, .tree-toggle");
  if (!box) return;
  const item = box.closest(".tree-item");
  const id = item.dataset.id;
  const boxes = [...$("interest-tree").querySelectorAll(".tree-box")];
  const at = boxes.indexOf(item.querySelector(".tree-box"));
  const node = state.interests.get(id);
  const move = (index) => {
    if (index >= 0 && index < boxes.length) boxes[index].focus();
  };
  switch (event.key) {
    case "ArrowDown":
      move(at + 1);
      break;
    case "ArrowUp":
      move(at - 1);
      break;
    case "ArrowRight":
      if (node && node.children.length && !state.openInterests.has(id) && !$("interest-search").value.trim()) toggleInterest(id);
      else move(at + 1);
      break;
    case "ArrowLeft":
      if (state.openInterests.has(id)) toggleInterest(id);
      else if (node && node.parentId) {
        const parent = document.getElementById(`interest-${node.parentId}`);
        if (parent) parent.focus();
      }
      break;
    default:
      return;
  }
  event.preventDefault();
}

// --- wiring ----------------------------------------------------------------------------------

function wire() {
  const refilter = debounce(renderList, SEARCH_DELAY_MS);
  $("filter-name").addEventListener("input", refilter);
  $("filter-type").addEventListener("change", renderList);
  $("refresh").addEventListener("click", () => loadSegments());
  $("segment-type").addEventListener("change", () => {
    clearProblems(form);
    showTypeFields();
  });
  form.addEventListener("submit", submit);
  $("cancel-edit").addEventListener("click", () => {
    resetForm();
    notify("Editing cancelled.");
  });
  $("add-point").addEventListener("click", () => {
    state.points.push({ name: "", latitude: null, longitude: null });
    renderPoints();
    const fields = document.getElementById(`point-${state.points.length - 1}-latitude`);
    if (fields) fields.focus();
  });
  $("loc-radius").addEventListener("input", () => mapView && mapView.setPoints(state.points, numberOrNull($("loc-radius"))));
  $("im-country").addEventListener("input", debounce(loadCatalogues, 400));
  $("brand-search").addEventListener("input", debounce(renderBrandOptions, SEARCH_DELAY_MS));
  $("interest-search").addEventListener("input", debounce(renderInterestTree, SEARCH_DELAY_MS));
  $("interest-tree").addEventListener("keydown", treeKeys);
  // Enter in a search box searches; it does not submit the segment.
  for (const id of ["brand-search", "interest-search", "filter-name"]) {
    $(id).addEventListener("keydown", (event) => {
      if (event.key === "Enter") event.preventDefault();
    });
  }
}

if (form && context.advertiserId) {
  wire();
  resetForm();
  // The form only changes things: each of its controls is a write, and for a read-only
  // operator the whole of it is disabled (controls drawn later included).
  for (const control of form.elements) {
    if (control.tagName !== "FIELDSET") control.dataset.write = "";
  }
  $("form-controls").disabled = context.readOnly;
  applyReadOnly(document);
  loadSegments();
}
