// Browse what an app has stored (GET /api/{app}/items, a page at a time) and start a
// "find similar" search from any item, without uploading anything.
import { api, errorBox } from "./api.js";
import { h, replace } from "./dom.js";

const PAGE = 12;

/**
 * A panel listing the app's stored items as tiles (thumbnail and name) with a
 * "Find similar" button each, and previous/next buttons. `onSimilar(item)` runs
 * the search. Returns the panel; `panel.refresh()` reloads the current page.
 */
export function browsePanel(info, { onSimilar, nameOf = (item) => item.fields.name || item.item_id }) {
  let offset = 0;
  const list = h("div", { class: "browse-list", "aria-live": "polite" });
  const status = h("span", { class: "muted" });
  const prev = h("button", { type: "button", class: "secondary", onclick: () => show(offset - PAGE) }, "Previous");
  const next = h("button", { type: "button", class: "secondary", onclick: () => show(offset + PAGE) }, "Next");
  const tile = (item) => h("li", { class: "tile browse-tile", "data-item-id": item.item_id },
    item.thumbnail_url ? h("img", { src: item.thumbnail_url, alt: nameOf(item), loading: "lazy" }) : null,
    h("div", { class: "caption" }, h("strong", { class: "tile-name" }, nameOf(item)),
      h("button", { type: "button", class: "link", onclick: () => onSimilar(item) }, "Find similar")));
  async function show(at) {
    offset = Math.max(0, at);
    try {
      const page = await api(`/api/${info.name}/items?offset=${offset}&limit=${PAGE}`);
      status.textContent = page.count
        ? `${offset + 1}–${offset + page.data.length} of ${page.count}` : "Nothing stored yet.";
      prev.disabled = offset === 0;
      next.disabled = offset + page.data.length >= page.count;
      replace(list, page.data.length ? h("ul", { class: "grid" }, page.data.map(tile)) : null);
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
