// Video object detection: register known objects (pictures named after the object)
// through the load panel, then upload a video or image; each known object found is
// shown with its name, when it is on screen, and its sightings drawn as boxes over
// the frames (taken from the uploaded file in the browser) and listed with coordinates.
import { api } from "../lib/api.js";
import { field, fmtScore, h, uniqueId } from "../lib/dom.js";
import { appPage, resultsHeading } from "../lib/page.js";
import { queryFilePicker } from "../lib/queryfile.js";
import { checkedLine, fmtBox, fmtOffset, registryPanel, seenHit, uploadSearch } from "../lib/sightings.js";

const DETECTOR_COLUMN = [["Detector", (s) => `${s.detector_label} ${fmtScore(s.detector_score, 2)}`]];

function objectHit(obj, frames) {
  return seenHit(obj, frames, { thumbAlt: "Registered picture of",
    scoreTitle: "best cosine similarity to the known object", columns: DETECTOR_COLUMN });
}

function unknownList(unknown) {
  if (!unknown.length) return null;
  return h("details", { class: "unknown-list" },
    h("summary", {}, `${unknown.length} detection(s) matching no known object`),
    h("ul", {}, unknown.map((u) => h("li", {},
      `${fmtOffset(u.time_s)}: ${u.detector_label} ${fmtScore(u.detector_score, 2)} at `,
      h("span", { class: "code" }, fmtBox(u.box)),
      u.best_name ? ` (closest: ${u.best_name}, ${fmtScore(u.best_score, 2)})` : ""))));
}

/** The registered pictures (GET /api/objects/items) grouped by object name. */
async function knownObjects(info) {
  const byName = new Map();
  for (let offset = 0; ; offset += 200) {
    const page = await api(`/api/${info.name}/items?offset=${offset}&limit=200`);
    for (const item of page.data) {
      const name = item.fields.name || item.item_id;
      if (!byName.has(name)) byName.set(name, { name, ids: [], thumbnail_urls: [] });
      byName.get(name).ids.push(item.item_id);
      byName.get(name).thumbnail_urls.push(item.thumbnail_url);
    }
    if (offset + page.data.length >= page.count || !page.data.length) break;
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function render(root, info) {
  let page = null;
  const registry = registryPanel({
    title: "Known objects",
    testId: "known-objects",
    what: "picture",
    empty: "None yet: load pictures named after the object (red_mug_2.jpg → red_mug).",
    load: () => knownObjects(info),
    remove: async (obj) => {
      for (const id of obj.ids) {
        await api(`/api/${info.name}/items/${id}`, { method: "DELETE" });
      }
    },
    onRemoved: () => page.refresh(),
  });
  page = appPage(root, info, { onLoaded: () => registry.refresh() });
  const topK = h("input", { type: "number", name: "top_k", min: 1, max: 1000, value: 20 });
  const minScore = h("input", { type: "number", name: "min_score", min: -1, max: 1,
    step: 0.05, placeholder: "0.7" });
  const unknownBox = h("input", { type: "checkbox", name: "include_unknown", id: uniqueId("unk") });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const search = uploadSearch(info, results, {
    looking: "Looking for known objects in",
    fields: () => {
      const fields = { top_k: Number(topK.value) || 20, include_unknown: unknownBox.checked };
      if (minScore.value !== "") fields.min_score = Number(minScore.value);
      return fields;
    },
    show: (r, frames, file) => [
      resultsHeading(r.hits.length, r.hits.length === 1 ? "known object found" : "known objects found"),
      h("p", { class: "muted" }, `${file.name}: ${checkedLine(r)}; ${r.detections} object box(es) detected.`),
      r.hits.length ? h("ol", { class: "hits" }, r.hits.map((o) => objectHit(o, frames)))
        : h("p", {}, "None of the registered objects was seen. Register pictures of the objects "
          + "(named after them) in “Load data”, or lower the minimum match score."),
      unknownList(r.unknown || [])],
  });
  const detect = () => search.run(picker.current());
  const picker = queryFilePicker({ label: "Video or image to check", accept: "video/*,image/*",
    kind: "image", onFile: () => detect() });
  const form = h("form", { class: "search", onsubmit: (ev) => { ev.preventDefault(); detect(); } },
    h("p", { class: "hint" }, "Register objects first: load pictures named after the object "
      + "(red_mug_2.jpg → red_mug), or a zip with a folder per object (objects.zip/mug/1.jpg → mug)."),
    picker,
    h("div", { class: "row" },
      field("Most objects", topK).wrap,
      field("Minimum match score", minScore, "Cosine, −1 to 1; empty: the server's default.").wrap,
      h("label", { class: "check", for: unknownBox.id }, unknownBox,
        "Also list detections matching no known object"),
      h("button", { type: "submit", class: "primary" }, "Find objects")));
  page.body.append(registry.section, form, results);
  registry.refresh();
  return () => {
    search.dispose();
    page.dispose();
    picker.dispose?.();
  };
}
