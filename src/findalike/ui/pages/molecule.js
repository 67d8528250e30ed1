// Molecules: a SMILES box with a live drawing of the query; results as a grid of
// structure drawings with Tanimoto scores; similarity, substructure or superstructure.
import { api, errorBox } from "../lib/api.js";
import { field, fmtScore, h, replace } from "../lib/dom.js";
import { appPage, resultsHeading } from "../lib/page.js";

function depictUrl(app, smiles, size = 220) {
  return `/api/${app}/depict?size=${size}&smiles=${encodeURIComponent(smiles)}`;
}

function tile(hit) {
  const label = hit.name || hit.mol_id || hit.smiles;
  return h("li", { class: "tile hit-tile" },
    h("img", { src: hit.depiction_url, alt: `Structure of ${label}`, loading: "lazy",
      width: 220, height: 220 }),
    h("div", { class: "caption" },
      h("strong", { class: "tile-name" }, label),
      h("div", { class: "score" }, `Tanimoto ${fmtScore(hit.score)}`),
      h("div", { class: "code smiles" }, hit.smiles)));
}

export function render(root, info) {
  const page = appPage(root, info);
  const query = h("input", { type: "text", name: "smiles", required: true, spellcheck: false,
    autocomplete: "off", class: "code", placeholder: "e.g. CC(=O)Oc1ccccc1C(=O)O (aspirin)" });
  const mode = h("select", { name: "mode" },
    h("option", { value: "similarity" }, "Similar (Tanimoto)"),
    h("option", { value: "substructure" }, "Contains the query (substructure)"),
    h("option", { value: "superstructure" }, "Contained in the query (superstructure)"));
  const queryType = h("select", { name: "query_type" },
    h("option", { value: "smiles" }, "SMILES"), h("option", { value: "smarts" }, "SMARTS"));
  const topK = h("input", { type: "number", name: "top_k", min: 1, max: 1000, value: 12 });
  const preview = h("div", { class: "depiction", role: "img", "aria-label": "Query structure" },
    h("span", { class: "muted" }, "The query is drawn here"));
  const results = h("div", { class: "results", "aria-live": "polite" });

  let timer = null;
  const drawQuery = () => {
    const smiles = query.value.trim();
    if (!smiles || queryType.value === "smarts") {
      replace(preview, h("span", { class: "muted" }, smiles ? "SMARTS is not drawn" : "The query is drawn here"));
      return;
    }
    const img = h("img", { src: depictUrl(info.name, smiles), alt: `Structure of ${smiles}` });
    img.addEventListener("error", () => replace(preview,
      h("span", { class: "error" }, "Not a molecule RDKit can read.")));
    replace(preview, img);
  };
  query.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(drawQuery, 300);
  });
  queryType.addEventListener("change", drawQuery);

  const search = async () => {
    const q = query.value.trim();
    if (!q) return;
    replace(results, h("p", { class: "muted" }, "Searching…"));
    try {
      const r = await api(`/api/${info.name}/search`, { json: {
        query: q, mode: mode.value, query_type: queryType.value, top_k: Number(topK.value) || 12,
      } });
      const note = r.mode === "similarity" ? null : h("p", { class: "muted" },
        `${r.matches} stored molecule(s) qualify; ${r.candidates} checked exactly.`);
      replace(results, resultsHeading(r.hits.length, "molecules"), note,
        r.hits.length ? h("ul", { class: "grid" }, r.hits.map(tile))
          : h("p", {}, "No stored molecule matches."));
    } catch (err) {
      replace(results, errorBox(err));
    }
  };
  const form = h("form", { class: "search", onsubmit: (ev) => {
    ev.preventDefault();
    search();
  } },
  h("div", { class: "row query-row" },
    h("div", { class: "grow-col" }, field("Query molecule (SMILES)", query).wrap,
      h("div", { class: "row" }, field("Mode", mode).wrap, field("Query is", queryType).wrap,
        field("Results", topK).wrap),
      h("button", { type: "submit", class: "primary" }, "Search")),
    preview));
  page.body.append(form, results);
  return page.dispose;
}
