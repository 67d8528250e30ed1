// Video search: a query image or clip; results per video with a player that seeks
// to the matching times.
import { api, errorBox } from "../lib/api.js";
import { field, fmtTime, h, replace } from "../lib/dom.js";
import { mediaHit } from "../lib/mediahits.js";
import { browsePanel } from "../lib/browse.js";
import { appPage, resultsHeading } from "../lib/page.js";
import { queryFilePicker, uploadForm } from "../lib/queryfile.js";

export function render(root, info) {
  let browse = null;
  const page = appPage(root, info, { onLoaded: () => browse && browse.refresh() });
  const topK = h("input", { type: "number", name: "top_k", min: 1, max: 1000, value: 5 });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const run = async (call) => {
    replace(results, h("p", { class: "muted" }, "Searching…"));
    try {
      const r = await call();
      replace(results, resultsHeading(r.hits.length, r.hits.length === 1 ? "video" : "videos"),
        h("p", { class: "muted" }, `Query: ${r.query}, ${r.query_frames} frame(s) embedded.`),
        h("ol", { class: "hits" }, r.hits.map((v) => mediaHit({
          name: v.name, score: v.score, fileUrl: v.file_url, kind: "video", poster: v.thumbnail_url,
          offsets: v.matches.map((m) => ({ t: m.offset_s, score: m.score })),
          extra: v.segments.length ? h("p", { class: "muted" }, "Segments: ",
            v.segments.map((s) => `${fmtTime(s.start_s)}–${fmtTime(s.end_s)}`).join(", ")) : null,
        }))));
    } catch (err) {
      replace(results, errorBox(err));
    }
  };
  const search = () => {
    const file = picker.current();
    if (!file) return replace(results, h("p", { class: "error", role: "alert" }, "Choose a query image or clip first."));
    return run(() => api(`/api/${info.name}/search/upload`,
      { form: uploadForm(file, { top_k: Number(topK.value) || 5 }) }));
  };
  const byItem = (itemId) => run(() => api(`/api/${info.name}/search`,
    { json: { item_id: itemId, top_k: Number(topK.value) || 5 } }));
  const picker = queryFilePicker({ label: "Query image or clip", accept: "image/*,video/*",
    kind: "image", onFile: () => search() });
  const form = h("form", { class: "search", onsubmit: (ev) => { ev.preventDefault(); search(); } },
    picker, h("div", { class: "row" }, field("Videos", topK).wrap,
      h("button", { type: "submit", class: "primary" }, "Search")));
  browse = browsePanel(info, { onSimilar: (item) => byItem(item.item_id) });
  page.body.append(form, results, browse);
  return () => { page.dispose(); picker.dispose?.(); };
}
