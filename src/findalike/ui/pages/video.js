// Video search: a query image or clip; results per video with a player that seeks
// to the matching times.
import { api, errorBox } from "../lib/api.js";
import { field, fmtTime, h, replace } from "../lib/dom.js";
import { mediaHit } from "../lib/mediahits.js";
import { appPage, resultsHeading } from "../lib/page.js";
import { queryFilePicker, uploadForm } from "../lib/queryfile.js";

export function render(root, info) {
  const page = appPage(root, info);
  const topK = h("input", { type: "number", name: "top_k", min: 1, max: 1000, value: 5 });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const search = async () => {
    const file = picker.current();
    if (!file) return replace(results, h("p", { class: "error", role: "alert" }, "Choose a query image or clip first."));
    replace(results, h("p", { class: "muted" }, "Searching…"));
    try {
      const r = await api(`/api/${info.name}/search/upload`,
        { form: uploadForm(file, { top_k: Number(topK.value) || 5 }) });
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
    return null;
  };
  const picker = queryFilePicker({ label: "Query image or clip", accept: "image/*,video/*",
    kind: "image", onFile: () => search() });
  const form = h("form", { class: "search", onsubmit: (ev) => { ev.preventDefault(); search(); } },
    picker, h("div", { class: "row" }, field("Videos", topK).wrap,
      h("button", { type: "submit", class: "primary" }, "Search")));
  page.body.append(form, results);
  return () => { page.dispose(); picker.dispose?.(); };
}
