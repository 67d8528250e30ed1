// A query-file picker: choose, drop or paste a file; shows a preview; calls
// onFile(file) when one is chosen.
import { h, replace, uniqueId } from "./dom.js";

export function queryFilePicker({ label, accept, kind, onFile }) {
  const input = h("input", { type: "file", accept, id: uniqueId("query") });
  const preview = h("div", { class: "preview" });
  let current = null;
  const choose = (file) => {
    if (!file) return;
    current = file;
    const url = URL.createObjectURL(file);
    const isVideo = file.type.startsWith("video/");
    const isAudio = file.type.startsWith("audio/");
    replace(preview, isAudio ? h("audio", { src: url, controls: true })
      : isVideo ? h("video", { src: url, controls: true, class: "query-preview", muted: true })
        : h("img", { src: url, alt: `Query: ${file.name}`, class: "query-preview" }));
    onFile(file);
  };
  input.addEventListener("change", () => choose(input.files[0]));
  const zone = h("div", { class: "dropzone query-drop" },
    h("label", { for: input.id }, label), input,
    h("small", { class: "hint" }, `Choose, drop${kind === "image" ? " or paste" : ""} a file here.`),
    preview);
  zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    choose(ev.dataTransfer.files[0]);
  });
  if (kind === "image") {
    const onPaste = (ev) => {
      const item = [...(ev.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
      if (item) choose(item.getAsFile());
    };
    document.addEventListener("paste", onPaste);
    zone.dispose = () => document.removeEventListener("paste", onPaste);
  }
  zone.current = () => current;
  zone.set = choose;
  return zone;
}

/** POST a query file (multipart `file`) plus form fields to `path`. */
export function uploadForm(file, fields) {
  const form = new FormData();
  form.append("file", file, file.name || "query");
  for (const [k, v] of Object.entries(fields)) form.append(k, String(v));
  return form;
}
