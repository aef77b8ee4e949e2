// The ad sets page: the advertiser's ad sets (/console/api/ad-sets, which the API cannot list)
// with the audience each is linked to, and a form per ad set to link another audience or none
// through the API (PUT /ad-sets/{adSetId}/audience). What the API refuses is shown beside the
// field it names.
import {
  ApiError,
  applyReadOnly,
  busy,
  call,
  clearProblems,
  context,
  el,
  notify,
  searchAll,
  showProblems,
} from "./console.js";

const $ = (id) => document.getElementById(id);
// The largest page the API serves.
const PAGE = 100;
const NONE = "";

let audiences = [];

async function load() {
  const wrap = $("ad-sets-wrap");
  const advertiser = encodeURIComponent(context.advertiserId);
  const [listed, found] = await busy(
    wrap,
    Promise.all([
      call("GET", `/console/api/ad-sets?advertiserId=${advertiser}`),
      searchAll("/audiences/search", { advertiserIds: [context.advertiserId] }, PAGE),
    ]),
  );
  audiences = found;
  const adSets = listed.data;
  $("ad-sets-body").replaceChildren(...adSets.map(row));
  $("ad-sets-table").hidden = adSets.length === 0;
  $("ad-sets-empty").hidden = adSets.length !== 0;
  $("no-audiences").hidden = adSets.length === 0 || audiences.length !== 0;
  wrap.removeAttribute("aria-busy");
  applyReadOnly(wrap);
}

function audienceName(id) {
  const found = audiences.find((a) => String(a.id) === String(id));
  return found ? `${found.attributes.name} (${id})` : `audience ${id}`;
}

function row(adSet) {
  const selectId = `audience-of-${adSet.id}`;
  const status = el("p", { class: "hint", id: `linked-${adSet.id}`, role: "status" }, linkedText(adSet.audienceId));
  const select = el(
    "select",
    { id: selectId, name: "audienceId", "data-pointer": "attributes/audienceId", "data-write": true },
    el("option", { value: NONE }, "— no audience —"),
    ...audiences.map((a) => el("option", { value: a.id }, `${a.attributes.name} (${a.id})`)),
  );
  // A linked audience this operator cannot see still shows as linked.
  if (adSet.audienceId && !audiences.some((a) => String(a.id) === adSet.audienceId)) {
    select.append(el("option", { value: adSet.audienceId }, audienceName(adSet.audienceId)));
  }
  select.value = adSet.audienceId || NONE;
  const save = el("button", { type: "submit", "data-write": true }, "Save");
  const form = el(
    "form",
    { class: "row", novalidate: true, "aria-label": `Audience of ad set ${adSet.name}` },
    el("div", {}, el("label", { for: selectId }, `Audience of ${adSet.name}`), select),
    el("div", {}, save),
    el("ul", { class: "form-problems", hidden: true }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    link(form, adSet, select.value).catch((error) => notify(error.message, "error"));
  });
  return el(
    "tr",
    { dataset: { adSet: adSet.id } },
    el("th", { scope: "row" }, `${adSet.name} `, el("span", { class: "hint" }, `(${adSet.id})`)),
    el("td", {}, form, status),
  );
}

function linkedText(audienceId) {
  return audienceId ? `Linked to ${audienceName(audienceId)}.` : "Linked to no audience.";
}

async function link(form, adSet, value) {
  clearProblems(form);
  const body = {
    data: { id: String(adSet.id), type: "AdSetAudienceLink", attributes: { audienceId: value || null } },
  };
  try {
    const answer = await busy(form, call("PUT", `/ad-sets/${encodeURIComponent(adSet.id)}/audience`, body));
    adSet.audienceId = answer.data.attributes.audienceId;
    $(`linked-${adSet.id}`).textContent = linkedText(adSet.audienceId);
    notify(
      adSet.audienceId
        ? `Ad set ${adSet.name} now targets ${audienceName(adSet.audienceId)}.`
        : `Ad set ${adSet.name} targets no audience now.`,
      "success",
    );
  } catch (error) {
    if (error instanceof ApiError) {
      showProblems(form, error.problems);
      return;
    }
    throw error;
  }
}

if (context.advertiserId) {
  load().catch((error) => notify(`The ad sets could not be loaded: ${error.message}`, "error"));
}
