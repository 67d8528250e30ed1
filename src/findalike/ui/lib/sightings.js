// Where known things (objects, people) were seen in an uploaded video or image: the
// frames are taken from the file in the browser (nothing is sent back by the server but
// times and boxes), the sightings' boxes drawn over them.
import { api, errorBox } from "./api.js";
import { fmtScore, fmtTime, h, replace } from "./dom.js";
import { uploadForm } from "./queryfile.js";

const FRAMES_PER_HIT = 4; // frames drawn per hit (the best ones); all sightings are listed
const FRAME_WIDTH_PX = 240;
const BOX_COLOUR = "#ffd400";

/** "1.5 s" under a minute, m:ss past it. */
export function fmtOffset(t) {
  return t < 60 ? `${t.toFixed(1)} s` : fmtTime(t);
}

export function fmtBox(box) {
  return `(${box[0]}, ${box[1]})–(${box[2]}, ${box[3]})`;
}

/**
 * Frames of the uploaded file, for drawing: `draw(t, fn)` calls `fn(source, w, h)`
 * with the frame at `t` seconds (a video seeked there, or the image). Calls run one
 * at a time, in order; `close()` frees the file's URL.
 */
export function frameSource(file) {
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

/** A canvas showing one frame with the boxes of `name`'s sightings, drawn when ready. */
export function frameFigure(frames, name, sightings) {
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
export function framesToDraw(sightings) {
  const byFrame = new Map();
  for (const s of sightings) {
    if (!byFrame.has(s.frame_number)) byFrame.set(s.frame_number, []);
    byFrame.get(s.frame_number).push(s);
  }
  const best = (group) => Math.max(...group.map((s) => s.score));
  return [...byFrame.values()].sort((a, b) => best(b) - best(a)).slice(0, FRAMES_PER_HIT)
    .sort((a, b) => a[0].time_s - b[0].time_s);
}

/**
 * The sightings of one hit as a table: time, frame, box, then `columns` (pairs of a
 * heading and a cell function), then the match score.
 */
export function sightingsTable(sightings, columns = []) {
  return h("div", { class: "scroll" }, h("table", { class: "sightings" },
    h("caption", { class: "muted" }, `${sightings.length} sighting(s)`),
    h("thead", {}, h("tr", {}, ["Time", "Frame", "Box (x0, y0)–(x1, y1) px",
      ...columns.map(([heading]) => heading), "Match"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, sightings.map((s) => h("tr", { dataset: { time: s.time_s, box: s.box.join(",") } },
      h("td", {}, fmtOffset(s.time_s)), h("td", {}, String(s.frame_number)),
      h("td", { class: "code" }, fmtBox(s.box)),
      columns.map(([, cell]) => h("td", {}, cell(s))),
      h("td", {}, fmtScore(s.score, 3)))))));
}

/**
 * One known thing seen in the query (an objects or people hit): its registered
 * picture, name, when it was on screen, its best frames drawn with boxes, and the
 * sightings table (`columns` as in sightingsTable).
 */
export function seenHit(hit, frames, { thumbAlt, scoreTitle, columns = [] }) {
  const span = hit.first_s === hit.last_s ? `at ${fmtOffset(hit.first_s)}`
    : `from ${fmtOffset(hit.first_s)} to ${fmtOffset(hit.last_s)}`;
  return h("li", { class: "object-hit", dataset: { name: hit.name } },
    h("div", { class: "hit-head" },
      h("img", { class: "known-thumb", src: hit.thumbnail_url, alt: `${thumbAlt} ${hit.name}` }),
      h("div", { class: "grow-col" },
        h("h3", { class: "hit-title" }, hit.name),
        h("p", { class: "seen" }, `Seen ${span} · `,
          h("span", { "data-testid": "first-s" }, `first ${fmtOffset(hit.first_s)}`), ", ",
          h("span", { "data-testid": "last-s" }, `last ${fmtOffset(hit.last_s)}`),
          ` · ${hit.sightings.length} sighting(s)`)),
      h("span", { class: "score", title: scoreTitle }, fmtScore(hit.score))),
    h("div", { class: "frames" }, framesToDraw(hit.sightings).map((g) => frameFigure(frames, hit.name, g))),
    sightingsTable(hit.sightings, columns));
}

/**
 * The search by upload of a "seen in a video" page: `run(file)` posts the file with
 * `fields()` to the app's upload search and shows `show(response, frames, file)` in
 * `results` (only the latest run's answer; errors as the API's error box); `looking`
 * is the line shown meanwhile. `dispose()` drops pending answers and the file's URL.
 */
export function uploadSearch(info, results, { looking, fields, show }) {
  let frames = null;
  let generation = 0;
  const run = async (file) => {
    if (!file) {
      replace(results, h("p", { class: "error", role: "alert" }, "Choose a video or image first."));
      return;
    }
    const mine = ++generation;
    replace(results, h("p", { class: "muted" }, `${looking} ${file.name}…`));
    try {
      const r = await api(`/api/${info.name}/search/upload`, { form: uploadForm(file, fields()) });
      if (mine !== generation) return;
      if (frames) frames.close();
      frames = frameSource(file);
      replace(results, ...show(r, frames, file));
    } catch (err) {
      if (mine === generation) replace(results, errorBox(err));
    }
  };
  const dispose = () => {
    generation += 1;
    if (frames) frames.close();
  };
  return { run, dispose };
}

/** "n frame(s) of d s checked", or "the image checked". */
export function checkedLine(r) {
  return r.duration_s ? `${r.frames_checked} frame(s) of ${fmtOffset(r.duration_s)} checked`
    : "the image checked";
}

/**
 * What is registered (people or objects), each entry a card with its pictures and a
 * Remove button that asks first. `load()` resolves to [{name, thumbnail_urls, ...}];
 * `remove(entry)` deletes one on the server. Returns {section, refresh}.
 */
export function registryPanel({ title, testId, what, empty, load, remove, onRemoved }) {
  const list = h("ul", { class: "people", "data-testid": testId });
  const refresh = async () => {
    try {
      const entries = await load();
      replace(list, entries.length ? entries.map(card) : h("li", { class: "muted" }, empty));
    } catch (err) {
      replace(list, h("li", {}, errorBox(err)));
    }
  };
  function card(entry) {
    const button = h("button", { type: "button", class: "secondary",
      "aria-label": `Remove ${entry.name}` }, "Remove");
    button.addEventListener("click", async () => {
      if (!window.confirm(`Remove ${entry.name}? Its vectors and pictures are deleted.`)) return;
      button.disabled = true;
      try {
        await remove(entry);
        await refresh();
        if (onRemoved) onRemoved(entry);
      } catch (err) {
        button.disabled = false;
        list.append(h("li", {}, errorBox(err)));
      }
    });
    return h("li", { class: "person", dataset: { name: entry.name } },
      h("h3", { class: "hit-title" }, entry.name),
      h("div", { class: "frames" }, entry.thumbnail_urls.map((url) => h("img", {
        class: "known-thumb", src: url, alt: `Registered ${what} of ${entry.name}` }))),
      h("p", { class: "muted" }, `${entry.thumbnail_urls.length} ${what}(s) `, button));
  }
  return { section: h("section", { class: "registered" }, h("h2", {}, title), list), refresh };
}
