// Browse what an app has stored (GET /api/{app}/items, a page at a time) and start a
// "find similar" search from any item or hit, without uploading anything.
import { api, errorBox } from "./api.js";
import { h, replace } from "./dom.js";

const PAGE = 12;

/** The "Find similar" button of a stored item or a hit. */
export function similarButton(label, onClick) {
  return h("button", { type: "button", class: "link find-similar",
    "aria-label": `Find similar to ${label}`, onclick: onClick }, "Find similar");
}

/**
 * `hits` without the item `itemId` (a search by a stored item's own content finds
 * the item itself first), at most `topK` of them: ask the server for `topK + 1`.
 */
export function withoutItem(hits, itemId, topK) {
  return hits.filter((hit) => hit.item_id !== itemId).slice(0, topK);
}

/** The first `max` characters of `text`, with an ellipsis if it was longer. */
export function excerpt(text, max = 160) {
  const chars = Array.from(text || "");
  return chars.length > max ? `${chars.slice(0, max).join("").trimEnd()}…` : chars.join("");
}

/**
 * A panel listing the app's stored items, a page at a time, each with a "Find
 * similar" button, and previous/next buttons. `onSimilar(item)` runs the search.
 * `nameOf(item)` is its caption, `imageOf(item)` a picture URL (default: the stored
 * thumbnail; none: a text row), `detailOf(item)` an optional line under the name,
 * `layout` "grid" (tiles) or "list" (rows, for text). Returns the panel;
 * `panel.refresh()` reloads the current page.
 */
export function browsePanel(info, {
  onSimilar,
  nameOf = (item) => item.fields.name || item.item_id,
  imageOf = (item) => item.thumbnail_url,
  detailOf = () => null,
  layout = "grid",
} = {}) {
  let offset = 0;
  const list = h("div", { class: "browse-list", "aria-live": "polite" });
  const status = h("span", { class: "muted" });
  const prev = h("button", { type: "button", class: "secondary", onclick: () => show(offset - PAGE) }, "Previous");
  const next = h("button", { type: "button", class: "secondary", onclick: () => show(offset + PAGE) }, "Next");
  const tile = (item) => {
    const name = nameOf(item);
    const image = imageOf(item);
    const detail = detailOf(item);
    return h("li", { class: `browse-tile ${layout === "grid" ? "tile" : "browse-row"}`,
      "data-item-id": item.item_id },
    image ? h("img", { src: image, alt: name, loading: "lazy" }) : null,
    h("div", { class: "caption" }, h("strong", { class: "tile-name" }, name),
      detail ? h("div", { class: "browse-detail" }, detail) : null,
      similarButton(name, () => onSimilar(item))));
  };
  async function show(at) {
    offset = Math.max(0, at);
    try {
      const page = await api(`/api/${info.name}/items?offset=${offset}&limit=${PAGE}`);
      status.textContent = page.count
        ? `${offset + 1}–${offset + page.data.length} of ${page.count}` : "Nothing stored yet.";
      prev.disabled = offset === 0;
      next.disabled = offset + page.data.length >= page.count;
      replace(list, page.data.length
        ? h("ul", { class: layout === "grid" ? "grid" : "browse-rows" }, page.data.map(tile)) : null);
    } catch (err) {
      replace(list, errorBox(err));
    }
  }
  const headingId = `browse-${info.name}`;
  const panel = h("section", { class: "panel browse", "aria-labelledby": headingId },
    h("h2", { id: headingId }, "Browse what is stored"),
    h("div", { class: "row" }, prev, next, status), list);
  panel.refresh = () => show(offset);
  show(0);
  return panel;
}
