// Text search: a query box, filters on metadata, results with highlighted snippets.
import { api, errorBox } from "../lib/api.js";
import { field, fmtScore, h, replace, uniqueId } from "../lib/dom.js";
import { appPage, resultsHeading } from "../lib/page.js";

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

function hitView(hit, rank) {
  const meta = Object.entries(hit.meta || {}).map(([k, v]) =>
    h("span", { class: "tag" }, `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`));
  return h("li", { class: "hit" },
    h("div", { class: "hit-head" },
      h("span", { class: "rank" }, `${rank}.`),
      h("h3", { class: "hit-title" }, hit.title || hit.source || hit.item_id),
      h("span", { class: "score", title: "cosine similarity" }, fmtScore(hit.score))),
    h("p", { class: "snippet" }, highlighted(hit.snippet || "", hit.highlights)),
    h("p", { class: "meta" }, meta, hit.passage ? h("span", { class: "tag" },
      `passage ${hit.passage + 1}`) : null));
}

export function render(root, info) {
  const page = appPage(root, info);
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
  const search = async () => {
    const q = query.value.trim();
    if (!q) return;
    replace(results, h("p", { class: "muted" }, "Searching…"));
    try {
      const body = { query: q, top_k: Number(topK.value) || 10, group: group.checked,
        filters: collectFilters(rows) };
      const resp = await api(`/api/${info.name}/search`, { json: body });
      for (const hit of resp.hits) Object.keys(hit.meta || {}).forEach((k) => keys.add(k));
      replace(results, resultsHeading(resp.hits.length),
        resp.hits.length ? h("ol", { class: "hits" }, resp.hits.map((r, i) => hitView(r, i + 1)))
          : h("p", {}, "Nothing matched. Load documents below, or loosen the filters."));
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
  page.body.append(form, results);
  return page.dispose;
}
