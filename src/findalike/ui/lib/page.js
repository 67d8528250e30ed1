// The common top of every app page: title, summary, counts, encoder and the loader.
import { api, currentCollection } from "./api.js";
import { h } from "./dom.js";
import { loaderPanel } from "./loader.js";

/**
 * Render the app header and the load panel into `root`; returns {body, refresh,
 * dispose}: `body` is where the page puts its search view, `refresh()` reloads counts.
 */
export function appPage(root, info, { loader = true, onLoaded } = {}) {
  const count = h("span", { class: "count", "data-testid": "item-count" },
    info.items == null ? "–" : String(info.items));
  const encoder = h("span", {}, info.encoder ? `${info.encoder} · ${info.dim}-d · ${info.metric}`
    : "no data yet");
  const refresh = async () => {
    try {
      const c = await api(`/api/${info.name}/count`);
      count.textContent = String(c.items);
      const apps = (await api("/api/apps")).data;
      const fresh = apps.find((a) => a.name === info.name);
      if (fresh && fresh.encoder) encoder.textContent = `${fresh.encoder} · ${fresh.dim}-d · ${fresh.metric}`;
    } catch {
      /* counts are informative only */
    }
  };
  const picker = collectionPicker(info);
  if (currentCollection()) refresh(); // the header's counts are the default collection's
  const body = h("div", { class: "app-body" });
  const panel = loader ? loaderPanel(info, (job) => {
    refresh();
    if (onLoaded) onLoaded(job);
  }) : null;
  root.append(
    h("div", { class: "app-head" },
      h("h1", {}, info.title || info.name),
      h("p", { class: "summary" }, info.summary),
      h("p", { class: "stats" }, h("span", {}, "Items: "), count, " · ", encoder, picker)),
  );
  // An empty app shows how to load data first; a full one, its search first.
  if (info.items) root.append(body, panel || "");
  else root.append(panel || "", body);
  return { body, refresh, dispose: () => panel && panel.dispose() };
}

/**
 * A choice of the app's named collections, shown once it has some: picking one opens
 * `#/<app>?collection=<name>`, where every load, search, count and browse goes to it.
 */
function collectionPicker(info) {
  const wrap = h("span", { class: "collection-picker", hidden: true });
  const picked = currentCollection();
  api(`/api/${info.name}/collections`).then((list) => {
    if (!list.count) return;
    const select = h("select", { "aria-label": "Collection", "data-testid": "collection" },
      h("option", { value: "" }, "(the app's own)"),
      list.data.map((c) => h("option", { value: c.name, selected: picked && picked.name === c.name },
        `${c.name} (${c.items})`)));
    select.addEventListener("change", () => {
      location.hash = select.value ? `#/${info.name}?collection=${encodeURIComponent(select.value)}`
        : `#/${info.name}`;
    });
    wrap.append(" · collection ", select);
    wrap.hidden = false;
  }).catch(() => { /* no picker: the app's own collection */ });
  return wrap;
}

/** A results heading with the count, for tests and screen readers. */
export function resultsHeading(n, what = "results") {
  return h("h2", { class: "results-head", "data-testid": "results-count", "data-count": n },
    `${n} ${what}`);
}
