// Image search: drop, paste or choose a query image, or describe it in words (matched
// to the images' ImageNet labels); a thumbnail grid with scores; click a result to
// open the original, or to search with it.
import { api, errorBox } from "../lib/api.js";
import { field, fmtScore, h, replace } from "../lib/dom.js";
import { browsePanel } from "../lib/browse.js";
import { appPage, resultsHeading } from "../lib/page.js";
import { queryFilePicker, uploadForm } from "../lib/queryfile.js";

// The part of a hit that matched, drawn over its thumbnail: the thumbnail is shown
// whole in a square (object-fit: contain), so the box is placed in the square's terms.
function regionBox(hit) {
  if (!hit.region || !hit.width || !hit.height) return null;
  const side = Math.max(hit.width, hit.height);
  const [x0, y0, x1, y1] = hit.region;
  const pct = (v) => `${((v / side) * 100).toFixed(2)}%`;
  const padX = (side - hit.width) / 2;
  const padY = (side - hit.height) / 2;
  return h("span", { class: "region-box", title: "the region that matched",
    style: `left:${pct(padX + x0)};top:${pct(padY + y0)};width:${pct(x1 - x0)};height:${pct(y1 - y0)}` });
}

export function render(root, info) {
  let browse = null;
  const page = appPage(root, info, { onLoaded: () => browse && browse.refresh() });
  const topK = h("input", { type: "number", name: "top_k", min: 1, max: 1000, value: 12 });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const labelsOf = (hit) => (hit.labels ? h("div", { class: "muted labels" },
    hit.labels.map((l) => `${l.name} ${Math.round(l.probability * 100)}%`).join(", ")) : null);
  const show = (r) => replace(results, resultsHeading(r.hits.length, "images"),
    h("p", { class: "muted" }, r.labelled_images == null
      ? `Model ${r.model}; near-duplicate at score ≥ ${fmtScore(r.near_duplicate_score)}.`
      : `Matched to the ImageNet labels of ${r.labelled_images} image(s); score: label match.`),
    h("ul", { class: "grid" }, r.hits.map((hit) => h("li", { class: "tile hit-tile" },
      h("a", { href: hit.file_url, target: "_blank", rel: "noopener", class: "framed",
        title: `Open ${hit.name} (${hit.width}×${hit.height})` },
      h("img", { src: hit.thumbnail_url, alt: hit.name, loading: "lazy" }), regionBox(hit)),
      h("div", { class: "caption" }, h("strong", { class: "tile-name" }, hit.name),
        h("div", { class: "score" }, `score ${fmtScore(hit.score)}`,
          hit.near_duplicate ? h("span", { class: "tag dup" }, " near-duplicate") : null),
        hit.region ? h("div", { class: "muted region-note" },
          `matched its centre (${hit.region.join(", ")})`) : null,
        labelsOf(hit),
        h("button", { type: "button", class: "link", onclick: () => byItem(hit.item_id) },
          "Search with this"))))));
  const run = async (call) => {
    replace(results, h("p", { class: "muted" }, "Searching…"));
    try {
      show(await call());
    } catch (err) {
      replace(results, errorBox(err));
    }
  };
  const byItem = (itemId) => run(() => api(`/api/${info.name}/search`,
    { json: { item_id: itemId, top_k: Number(topK.value) || 12 } }));
  const search = () => {
    const file = picker.current();
    if (!file) return replace(results, h("p", { class: "error", role: "alert" }, "Choose a query image first."));
    return run(() => api(`/api/${info.name}/search/upload`,
      { form: uploadForm(file, { top_k: Number(topK.value) || 12 }) }));
  };
  const picker = queryFilePicker({ label: "Query image", accept: "image/*", kind: "image",
    onFile: () => search() });
  const words = h("input", { type: "search", name: "text", maxlength: 500, autocomplete: "off",
    placeholder: "e.g. a bird, a guitar" });
  const byText = () => {
    const text = words.value.trim();
    if (!text) return null;
    return run(() => api(`/api/${info.name}/search`,
      { json: { text, top_k: Number(topK.value) || 12 } }));
  };
  const textForm = h("form", { class: "search", role: "search",
    onsubmit: (ev) => { ev.preventDefault(); byText(); } },
  h("div", { class: "row grow" }, field("Or describe it in words", words).wrap,
    h("button", { type: "submit", class: "secondary" }, "Search by words")));
  const form = h("form", { class: "search", onsubmit: (ev) => { ev.preventDefault(); search(); } },
    picker, h("div", { class: "row" }, field("Results", topK).wrap,
      h("button", { type: "submit", class: "primary" }, "Search")));
  browse = browsePanel(info, { onSimilar: (item) => byItem(item.item_id) });
  page.body.append(form, textForm, results, browse);
  return () => { page.dispose(); picker.dispose?.(); };
}
