// Video object detection: register known objects (pictures named after the object)
// through the load panel, then upload a video or image; each known object found is
// shown with its name, when it is on screen, and its sightings drawn as boxes over
// the frames (taken from the uploaded file in the browser) and listed with coordinates.
import { api, errorBox } from "../lib/api.js";
import { field, fmtScore, fmtTime, h, replace, uniqueId } from "../lib/dom.js";
import { appPage, resultsHeading } from "../lib/page.js";
import { queryFilePicker, uploadForm } from "../lib/queryfile.js";

const FRAMES_PER_OBJECT = 4; // sightings drawn over their frame; all are listed
const FRAME_WIDTH_PX = 240;
const BOX_COLOUR = "#ffd400";

/** "1.5 s" under a minute, m:ss past it. */
function fmtOffset(t) {
  return t < 60 ? `${t.toFixed(1)} s` : fmtTime(t);
}

function fmtBox(box) {
  return `(${box[0]}, ${box[1]})–(${box[2]}, ${box[3]})`;
}

/**
 * Frames of the uploaded file, for drawing: `draw(t, fn)` calls `fn(source, w, h)`
 * with the frame at `t` seconds (a video seeked there, or the image). Calls run one
 * at a time, in order; `close()` frees the file's URL.
 */
function frameSource(file) {
  const url = URL.createObjectURL(file);
  const isVideo = file.type.startsWith("video/") || !file.type.startsWith("image/");
  let queue;
  if (isVideo) {
    const video = h("video", { src: url, muted: true, preload: "auto", playsInline: true });
    queue = new Promise((resolve, reject) => {
      video.addEventListener("loadeddata", () => resolve(video), { once: true });
      video.addEventListener("error", () => reject(new Error("the browser cannot decode this video")),
        { once: true });
    });
  } else {
    const img = new Image();
    queue = new Promise((resolve, reject) => {
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("the browser cannot decode this image"));
    });
    img.src = url;
  }
  const ready = queue;
  ready.catch(() => {}); // reported per frame by draw()
  const seek = (video, t) => new Promise((resolve) => {
    if (Math.abs(video.currentTime - t) < 1e-3) return resolve();
    video.addEventListener("seeked", () => resolve(), { once: true });
    video.currentTime = t;
    return null;
  });
  const draw = (t, fn) => {
    queue = queue.catch(() => null).then(async () => {
      const source = await ready;
      if (source instanceof HTMLVideoElement) {
        await seek(source, t);
        fn(source, source.videoWidth, source.videoHeight);
      } else {
        fn(source, source.naturalWidth, source.naturalHeight);
      }
    });
    return queue;
  };
  return { draw, close: () => URL.revokeObjectURL(url) };
}

/** A canvas showing one frame with the object's boxes in it, drawn when ready. */
function frameFigure(frames, name, sightings) {
  const t = sightings[0].time_s;
  const boxes = sightings.map((s) => fmtBox(s.box)).join(", ");
  const canvas = h("canvas", { class: "frame", width: FRAME_WIDTH_PX, height: 180, role: "img",
    "aria-label": `${name} at ${fmtOffset(t)}, box ${boxes}`, dataset: { drawn: "pending" } });
  const caption = h("figcaption", {}, `${fmtOffset(t)} · ${sightings.map((s) => fmtScore(s.score, 2)).join(", ")}`);
  frames.draw(t, (source, w, hgt) => {
    const scale = FRAME_WIDTH_PX / w;
    canvas.width = FRAME_WIDTH_PX;
    canvas.height = Math.round(hgt * scale);
    const ctx = canvas.getContext("2d");
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 3;
    ctx.font = "bold 13px sans-serif";
    for (const s of sightings) {
      const [x0, y0, x1, y1] = s.box.map((v) => v * scale);
      ctx.strokeStyle = BOX_COLOUR;
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
      const label = `${name} ${fmtScore(s.score, 2)}`;
      const ty = y0 > 18 ? y0 - 4 : y0 + 16;
      ctx.fillStyle = "rgba(0,0,0,.65)";
      ctx.fillRect(x0, ty - 13, ctx.measureText(label).width + 6, 17);
      ctx.fillStyle = BOX_COLOUR;
      ctx.fillText(label, x0 + 3, ty);
    }
    canvas.dataset.drawn = "yes";
  }).catch((err) => {
    canvas.dataset.drawn = "no";
    caption.textContent = `${fmtOffset(t)} · frame not shown: ${err.message}`;
  });
  return h("figure", { class: "frame-fig" }, canvas, caption);
}

/** The sightings to draw: the best few frames, in time order, boxes grouped per frame. */
function framesToDraw(sightings) {
  const byFrame = new Map();
  for (const s of sightings) {
    if (!byFrame.has(s.frame_number)) byFrame.set(s.frame_number, []);
    byFrame.get(s.frame_number).push(s);
  }
  const best = (group) => Math.max(...group.map((s) => s.score));
  return [...byFrame.values()].sort((a, b) => best(b) - best(a)).slice(0, FRAMES_PER_OBJECT)
    .sort((a, b) => a[0].time_s - b[0].time_s);
}

function sightingsTable(sightings) {
  return h("div", { class: "scroll" }, h("table", { class: "sightings" },
    h("caption", { class: "muted" }, `${sightings.length} sighting(s)`),
    h("thead", {}, h("tr", {}, ["Time", "Frame", "Box (x0, y0)–(x1, y1) px", "Detector",
      "Match"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, sightings.map((s) => h("tr", { dataset: { time: s.time_s, box: s.box.join(",") } },
      h("td", {}, fmtOffset(s.time_s)), h("td", {}, String(s.frame_number)),
      h("td", { class: "code" }, fmtBox(s.box)),
      h("td", {}, `${s.detector_label} ${fmtScore(s.detector_score, 2)}`),
      h("td", {}, fmtScore(s.score, 3)))))));
}

function objectHit(obj, frames) {
  const span = obj.first_s === obj.last_s ? `at ${fmtOffset(obj.first_s)}`
    : `from ${fmtOffset(obj.first_s)} to ${fmtOffset(obj.last_s)}`;
  return h("li", { class: "object-hit", dataset: { name: obj.name } },
    h("div", { class: "hit-head" },
      h("img", { class: "known-thumb", src: obj.thumbnail_url, alt: `Registered picture of ${obj.name}` }),
      h("div", { class: "grow-col" },
        h("h3", { class: "hit-title" }, obj.name),
        h("p", { class: "seen" }, `Seen ${span} · `,
          h("span", { "data-testid": "first-s" }, `first ${fmtOffset(obj.first_s)}`), ", ",
          h("span", { "data-testid": "last-s" }, `last ${fmtOffset(obj.last_s)}`),
          ` · ${obj.sightings.length} sighting(s)`)),
      h("span", { class: "score", title: "best cosine similarity to the known object" },
        fmtScore(obj.score))),
    h("div", { class: "frames" }, framesToDraw(obj.sightings).map((g) => frameFigure(frames, obj.name, g))),
    sightingsTable(obj.sightings));
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

export function render(root, info) {
  const page = appPage(root, info);
  const topK = h("input", { type: "number", name: "top_k", min: 1, max: 1000, value: 20 });
  const minScore = h("input", { type: "number", name: "min_score", min: -1, max: 1,
    step: 0.05, placeholder: "0.7" });
  const unknownBox = h("input", { type: "checkbox", name: "include_unknown", id: uniqueId("unk") });
  const results = h("div", { class: "results", "aria-live": "polite" });
  let frames = null;
  let generation = 0;
  const detect = async () => {
    const file = picker.current();
    if (!file) return replace(results, h("p", { class: "error", role: "alert" }, "Choose a video or image first."));
    const mine = ++generation;
    replace(results, h("p", { class: "muted" }, `Looking for known objects in ${file.name}…`));
    const fields = { top_k: Number(topK.value) || 20, include_unknown: unknownBox.checked };
    if (minScore.value !== "") fields.min_score = Number(minScore.value);
    try {
      const r = await api(`/api/${info.name}/search/upload`, { form: uploadForm(file, fields) });
      if (mine !== generation) return null;
      if (frames) frames.close();
      frames = frameSource(file);
      const checked = r.duration_s ? `${r.frames_checked} frame(s) of ${fmtOffset(r.duration_s)} checked`
        : "the image checked";
      replace(results, resultsHeading(r.hits.length, r.hits.length === 1 ? "known object found" : "known objects found"),
        h("p", { class: "muted" }, `${file.name}: ${checked}; ${r.detections} object box(es) detected.`),
        r.hits.length ? h("ol", { class: "hits" }, r.hits.map((o) => objectHit(o, frames)))
          : h("p", {}, "None of the registered objects was seen. Register pictures of the objects "
            + "(named after them) in “Load data”, or lower the minimum match score."),
        unknownList(r.unknown || []));
    } catch (err) {
      if (mine === generation) replace(results, errorBox(err));
    }
    return null;
  };
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
  page.body.append(form, results);
  return () => {
    generation += 1;
    if (frames) frames.close();
    page.dispose();
    picker.dispose?.();
  };
}
