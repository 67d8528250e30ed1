// Known people in videos: the registered people with their photos (each removable:
// their face vectors and photos are deleted on the server), photos registered through
// the load panel (a folder per person, or the name in the file name), and a search by
// upload showing who appears, when, where (boxes drawn over the uploaded file's frames
// in the browser) and how surely, and the faces of no registered person.
import { api } from "../lib/api.js";
import { field, fmtScore, h } from "../lib/dom.js";
import { appPage, resultsHeading } from "../lib/page.js";
import { queryFilePicker } from "../lib/queryfile.js";
import { checkedLine, fmtBox, fmtOffset, registryPanel, seenHit, uploadSearch } from "../lib/sightings.js";

function unknownList(unknown) {
  if (!unknown.length) return null;
  return h("details", { class: "unknown-list", "data-testid": "unknown-faces" },
    h("summary", {}, `${unknown.length} face(s) of no registered person`),
    h("ul", {}, unknown.map((u) => h("li", {}, `${fmtOffset(u.time_s)}: unknown at `,
      h("span", { class: "code" }, fmtBox(u.box)),
      u.best_name ? ` (closest: ${u.best_name}, ${fmtScore(u.best_score, 2)})` : ""))));
}

export function render(root, info) {
  let page = null;
  const registry = registryPanel({
    title: "Registered people",
    testId: "people",
    what: "photo",
    empty: "No one yet: load photos, a folder per person (people.zip/ada/1.jpg → ada) or "
      + "named after them (ada_2.jpg → ada).",
    load: async () => (await api(`/api/${info.name}/people`)).people,
    remove: (person) => api(`/api/${info.name}/people/${encodeURIComponent(person.name)}`,
      { method: "DELETE" }),
    onRemoved: () => page.refresh(),
  });
  page = appPage(root, info, { onLoaded: () => registry.refresh() });

  const topK = h("input", { type: "number", name: "top_k", min: 1, max: 1000, value: 20 });
  const minScore = h("input", { type: "number", name: "min_score", min: -1, max: 1,
    step: 0.01, placeholder: "0.93" });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const search = uploadSearch(info, results, {
    looking: "Looking for registered people in",
    fields: () => {
      const fields = { top_k: Number(topK.value) || 20 };
      if (minScore.value !== "") fields.min_score = Number(minScore.value);
      return fields;
    },
    show: (r, frames, file) => [
      resultsHeading(r.hits.length, r.hits.length === 1 ? "person found" : "people found"),
      h("p", { class: "muted" }, `${file.name}: ${checkedLine(r)}; ${r.faces} face(s) found.`),
      r.hits.length ? h("ol", { class: "hits" }, r.hits.map((p) => seenHit(p, frames, {
        thumbAlt: "Registered photo of", scoreTitle: "best cosine similarity to a registered photo" })))
        : h("p", {}, r.faces ? "No registered person was recognised." : "No face was found."),
      unknownList(r.unknown || [])],
  });
  const identify = () => search.run(picker.current());
  const picker = queryFilePicker({ label: "Video or image to check", accept: "video/*,image/*",
    kind: "image", onFile: () => identify() });
  const form = h("form", { class: "search", onsubmit: (ev) => { ev.preventDefault(); identify(); } },
    picker,
    h("div", { class: "row" },
      field("Most people", topK).wrap,
      field("Minimum match score", minScore, "Cosine, −1 to 1; empty: the server's default.").wrap,
      h("button", { type: "submit", class: "primary" }, "Find people")));
  page.body.append(registry.section, form, results);
  registry.refresh();
  return () => {
    search.dispose();
    page.dispose();
    picker.dispose?.();
  };
}
