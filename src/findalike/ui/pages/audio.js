// Audio search: upload or record a query, or pick a stored clip ("Find similar");
// results per clip with a player that seeks to the matching offsets.
import { api, errorBox } from "../lib/api.js";
import { field, h, replace } from "../lib/dom.js";
import { mediaHit } from "../lib/mediahits.js";
import { browsePanel, similarButton } from "../lib/browse.js";
import { appPage, resultsHeading } from "../lib/page.js";
import { queryFilePicker, uploadForm } from "../lib/queryfile.js";

function recorder(onRecorded) {
  const button = h("button", { type: "button", class: "secondary" }, "● Record a query");
  if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder !== "function") {
    button.disabled = true;
    button.title = "Recording needs a microphone and a secure context (https or localhost).";
    return button;
  }
  let rec = null;
  button.addEventListener("click", async () => {
    if (rec) {
      rec.stop();
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks = [];
      rec = new MediaRecorder(stream);
      rec.ondataavailable = (ev) => chunks.push(ev.data);
      rec.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        rec = null;
        button.textContent = "● Record a query";
        const type = chunks[0]?.type || "audio/webm";
        const ext = type.includes("ogg") ? "ogg" : "webm";
        onRecorded(new File(chunks, `recording.${ext}`, { type }));
      };
      rec.start();
      button.textContent = "■ Stop recording";
    } catch (err) {
      button.textContent = `Microphone unavailable: ${err.message}`;
    }
  });
  return button;
}

export function render(root, info) {
  let browse = null;
  const page = appPage(root, info, { onLoaded: () => browse && browse.refresh() });
  const topK = h("input", { type: "number", name: "top_k", min: 1, max: 1000, value: 5 });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const run = async (call, like) => {
    replace(results, h("p", { class: "muted" }, "Searching…"));
    try {
      const r = await call();
      const query = like ? `Like ${like}` : `Query: ${r.query_duration_s.toFixed(1)} s`;
      replace(results, resultsHeading(r.hits.length, "recordings"),
        h("p", { class: "muted" }, `${query}, ${r.query_windows} window(s)`
          + `${r.query_truncated ? " (truncated)" : ""}.`),
        h("ol", { class: "hits" }, r.hits.map((c) => mediaHit({
          name: c.name, score: c.score, fileUrl: c.file_url, kind: "audio",
          offsets: c.matches.map((m) => ({ t: m.offset_s, score: m.score })),
          extra: similarButton(c.name, () => byItem(c.item_id, c.name)),
        }))));
    } catch (err) {
      replace(results, errorBox(err));
    }
  };
  // A stored clip is searched by its own stored windows, itself left out.
  const byItem = (itemId, name) => run(() => api(`/api/${info.name}/search`,
    { json: { item_id: itemId, top_k: Number(topK.value) || 5 } }), name);
  const search = () => {
    const file = picker.current();
    if (!file) return replace(results, h("p", { class: "error", role: "alert" }, "Choose or record a query first."));
    return run(() => api(`/api/${info.name}/search/upload`,
      { form: uploadForm(file, { top_k: Number(topK.value) || 5 }) }));
  };
  const picker = queryFilePicker({ label: "Query recording", accept: "audio/*,.flac,.ogg,.opus",
    kind: "audio", onFile: () => search() });
  const form = h("form", { class: "search", onsubmit: (ev) => { ev.preventDefault(); search(); } },
    picker, h("div", { class: "row" }, recorder((file) => picker.set(file)),
      field("Recordings", topK).wrap, h("button", { type: "submit", class: "primary" }, "Search")));
  browse = browsePanel(info, {
    layout: "list",
    detailOf: (item) => (item.fields.duration_s == null ? null
      : `${Number(item.fields.duration_s).toFixed(1)} s`),
    onSimilar: (item) => byItem(item.item_id, item.fields.name || item.item_id),
  });
  page.body.append(form, results, browse);
  return () => { page.dispose(); picker.dispose?.(); };
}
