// Audio search: upload or record a query; results per clip with a player that
// seeks to the matching offsets.
import { api, errorBox } from "../lib/api.js";
import { field, h, replace } from "../lib/dom.js";
import { mediaHit } from "../lib/mediahits.js";
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
  const page = appPage(root, info);
  const topK = h("input", { type: "number", name: "top_k", min: 1, max: 1000, value: 5 });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const search = async () => {
    const file = picker.current();
    if (!file) return replace(results, h("p", { class: "error", role: "alert" }, "Choose or record a query first."));
    replace(results, h("p", { class: "muted" }, "Searching…"));
    try {
      const r = await api(`/api/${info.name}/search/upload`,
        { form: uploadForm(file, { top_k: Number(topK.value) || 5 }) });
      replace(results, resultsHeading(r.hits.length, "recordings"),
        h("p", { class: "muted" }, `Query: ${r.query_duration_s.toFixed(1)} s, ${r.query_windows} window(s)`
          + `${r.query_truncated ? " (truncated)" : ""}.`),
        h("ol", { class: "hits" }, r.hits.map((c) => mediaHit({
          name: c.name, score: c.score, fileUrl: c.file_url, kind: "audio",
          offsets: c.matches.map((m) => ({ t: m.offset_s, score: m.score })),
        }))));
    } catch (err) {
      replace(results, errorBox(err));
    }
    return null;
  };
  const picker = queryFilePicker({ label: "Query recording", accept: "audio/*,.flac,.ogg,.opus",
    kind: "audio", onFile: () => search() });
  const form = h("form", { class: "search", onsubmit: (ev) => { ev.preventDefault(); search(); } },
    picker, h("div", { class: "row" }, recorder((file) => picker.set(file)),
      field("Recordings", topK).wrap, h("button", { type: "submit", class: "primary" }, "Search")));
  page.body.append(form, results);
  return page.dispose;
}
