// Results for time-based media (video, audio): one block per item with a player and
// buttons that seek it to each matching offset.
import { fmtScore, fmtTime, h } from "./dom.js";

export function mediaHit({ name, score, fileUrl, kind, offsets, poster, extra }) {
  const player = h(kind, { src: fileUrl, controls: true, preload: "metadata", poster });
  const seek = (t) => {
    player.currentTime = t;
    player.play().catch(() => {});
  };
  if (offsets.length) {
    player.addEventListener("loadedmetadata", () => { player.currentTime = offsets[0].t; },
      { once: true });
  }
  return h("li", { class: "media-hit" },
    h("div", { class: "hit-head" }, h("h3", { class: "hit-title" }, name),
      h("span", { class: "score" }, fmtScore(score))),
    player,
    h("div", { class: "offsets", role: "group", "aria-label": `Matches in ${name}` },
      offsets.map((o) => h("button", { type: "button", class: "secondary offset",
        "aria-label": `Play ${name} from ${fmtTime(o.t)}`, onclick: () => seek(o.t) },
      `▶ ${o.t < 60 ? `${o.t.toFixed(1)} s` : fmtTime(o.t)} (${fmtScore(o.score, 2)})`))),
    extra || null);
}
