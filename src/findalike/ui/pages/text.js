// Text search: a query box, filters on metadata, results with highlighted snippets.
// Browse the stored documents; "Find similar" on one (or on a hit) searches by its text.
import { api, errorBox } from "../lib/api.js";
import { field, fmtScore, h, replace, uniqueId } from "../lib/dom.js";
import { browsePanel, excerpt, similarButton, withoutItem } from "../lib/browse.js";
import { appPage, resultsHeading } from "../lib/page.js";

const MAX_QUERY_CHARS = 4000; // the search request's limit

/** The snippet with its [start, end) highlight spans (code-point offsets) in <mark>. */
export function highlighted(snippet, spans) {
  const chars = Array.from(snippet);
  const out = [];
  let at = 0;
  for (const [start, end] of [...(spans || [])].sort((a, b) => a[0] - b[0])) {
    if (start < at || end <= start) continue;
    out.push(chars.slice(at, start).join(""), h("mark", {}, chars.slice(start, end).join("")));
    at = end;
  }
  out.push(chars.slice(at).join(""));
  return out;
}

function parseValue(raw) {
  const v = raw.trim();
  if (v === "true" || v === "false") return v === "true";
  if (v !== "" && !Number.isNaN(Number(v))) return Number(v);
  return v;
}

function filterRow(keys, onRemove) {
  const listId = uniqueId("keys");
  const key = h("input", { type: "text", list: listId, placeholder: "field, e.g. party",
    "aria-label": "Filter field" });
  const op = h("select", { "aria-label": "Comparison" },
    h("option", { value: "eq" }, "="), h("option", { value: "gte" }, "≥"),
    h("option", { value: "lte" }, "≤"), h("option", { value: "gt" }, ">"),
    h("option", { value: "lt" }, "<"));
  const value = h("input", { type: "text", placeholder: "value", "aria-label": "Filter value" });
  const datalist = h("datalist", { id: listId }, [...keys].map((k) => h("option", { value: k })));
  const row = h("div", { class: "filter-row" }, key, datalist, op, value,
    h("button", { type: "button", class: "secondary", "aria-label": "Remove filter",
      onclick: () => onRemove(row) }, "✕"));
  row.read = () => ({ key: key.value.trim(), op: op.value, value: value.value });
  return row;
}

function collectFilters(rows) {
  const filters = {};
  for (const row of rows) {
    const { key, op, value } = row.read();
    if (!key) continue;
    if (op === "eq") filters[key] = parseValue(value);
    else {
      const range = typeof filters[key] === "object" ? filters[key] : {};
      range[op] = Number(value);
      filters[key] = range;
    }
  }
  return filters;
}

function hitView(hit, rank, onSimilar) {
  const meta = Object.entries(hit.meta || {}).map(([k, v]) =>
    h("span", { class: "tag" }, `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`));
  return h("li", { class: "hit", "data-item-id": hit.item_id },
    h("div", { class: "hit-head" },
      h("span", { class: "rank" }, `${rank}.`),
      h("h3", { class: "hit-title" }, hit.title || hit.source || hit.item_id),
      h("span", { class: "score", title: "cosine similarity" }, fmtScore(hit.score))),
    h("p", { class: "snippet" }, highlighted(hit.snippet || "", hit.highlights)),
    h("p", { class: "meta" }, meta, hit.passage ? h("span", { class: "tag" },
      `passage ${hit.passage + 1}`) : null),
    similarButton(hit.title || hit.source || hit.item_id, () => onSimilar(hit)));
}

export function render(root, info) {
  let browse = null;
  const page = appPage(root, info, { onLoaded: () => browse && browse.refresh() });
  const keys = new Set();
  const rows = [];
  const query = h("input", { type: "search", name: "query", required: true,
    placeholder: "e.g. how can we make health care cheaper", autocomplete: "off" });
  const topK = h("input", { type: "number", name: "top_k", min: 1, max: 1000, value: 10 });
  const group = h("input", { type: "checkbox", name: "group", checked: true });
  const filtersBox = h("div", { class: "filters" });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const addFilter = () => {
    const row = filterRow(keys, (r) => {
      rows.splice(rows.indexOf(r), 1);
      r.remove();
    });
    rows.push(row);
    filtersBox.append(row);
    row.querySelector("input").focus();
  };
  // `like`: a stored document ({item_id, title, text}) whose text is the query; it is
  // left out of its own results.
  const run = async (q, like = null) => {
    const k = Number(topK.value) || 10;
    replace(results, h("p", { class: "muted" }, "Searching…"));
    try {
      const body = { query: q, top_k: like ? k + 1 : k, group: group.checked,
        filters: collectFilters(rows) };
      if (like) body.mode = "semantic"; // a whole passage: by meaning, not its words
      const resp = await api(`/api/${info.name}/search`, { json: body });
      const hits = like ? withoutItem(resp.hits, like.item_id, k) : resp.hits;
      for (const hit of hits) Object.keys(hit.meta || {}).forEach((key) => keys.add(key));
      replace(results, resultsHeading(hits.length),
        like ? h("p", { class: "muted like" }, `Documents like “${like.title}”`) : null,
        resp.exact_terms && resp.exact_terms.length
          ? h("p", { class: "muted exact" }, `Documents holding ${resp.exact_terms.map((t) => `“${t}”`).join(", ")} exactly come first.`)
          : null,
        hits.length ? h("ol", { class: "hits" }, hits.map((r, i) => hitView(r, i + 1, similarToHit)))
          : h("p", {}, "Nothing matched. Load documents below, or loosen the filters."));
    } catch (err) {
      replace(results, errorBox(err));
    }
  };
  const search = () => {
    const q = query.value.trim();
    if (q) run(q);
  };
  const similarTo = (item) => run(Array.from(item.fields.text || item.fields.title || "")
    .slice(0, MAX_QUERY_CHARS).join(""),
  { item_id: item.item_id, title: item.fields.title || item.fields.source || item.item_id });
  // A hit shows a snippet only: its stored text comes from the item (its first passage).
  const similarToHit = async (hit) => {
    try {
      similarTo(await api(`/api/${info.name}/items/${encodeURIComponent(hit.item_id)}`));
    } catch (err) {
      replace(results, errorBox(err));
    }
  };
  const form = h("form", { class: "search", role: "search", onsubmit: (ev) => {
    ev.preventDefault();
    search();
  } },
  h("div", { class: "row grow" }, field("Search documents", query).wrap,
    h("button", { type: "submit", class: "primary" }, "Search")),
  h("div", { class: "row" }, field("Results", topK).wrap,
    h("label", { class: "check" }, group, " one hit per document")),
  h("fieldset", {}, h("legend", {}, "Filters (all must hold)"), filtersBox,
    h("button", { type: "button", class: "secondary", onclick: addFilter }, "+ Add filter")));
  browse = browsePanel(info, {
    layout: "list",
    nameOf: (item) => item.fields.title || item.fields.source || item.item_id,
    imageOf: () => null,
    detailOf: (item) => excerpt(item.fields.text, 220),
    onSimilar: similarTo,
  });
  page.body.append(form, results, browse);
  return page.dispose;
}
