// Molecules: a SMILES box with a live drawing of the query; results as a grid of
// structure drawings with Tanimoto scores; similarity, substructure or superstructure.
// Browse the stored molecules; "Find similar" on one (or on a hit) searches by its SMILES.
import { api, errorBox } from "../lib/api.js";
import { field, fmtScore, h, replace } from "../lib/dom.js";
import { browsePanel, similarButton, withoutItem } from "../lib/browse.js";
import { appPage, resultsHeading } from "../lib/page.js";

function depictUrl(app, smiles, size = 220) {
  return `/api/${app}/depict?size=${size}&smiles=${encodeURIComponent(smiles)}`;
}

function tile(hit, onSimilar) {
  const label = hit.name || hit.mol_id || hit.smiles;
  return h("li", { class: "tile hit-tile", "data-item-id": hit.item_id },
    h("img", { src: hit.depiction_url, alt: `Structure of ${label}`, loading: "lazy",
      width: 220, height: 220 }),
    h("div", { class: "caption" },
      h("strong", { class: "tile-name" }, label),
      h("div", { class: "score" }, `Tanimoto ${fmtScore(hit.score)}`),
      h("div", { class: "code smiles" }, hit.smiles),
      similarButton(label, () => onSimilar(hit))));
}

export function render(root, info) {
  let browse = null;
  const page = appPage(root, info, { onLoaded: () => browse && browse.refresh() });
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

  // `exclude`: a stored molecule's own id, left out of the hits it is the query of.
  const search = async (exclude = null) => {
    const q = query.value.trim();
    if (!q) return;
    const k = Number(topK.value) || 12;
    replace(results, h("p", { class: "muted" }, "Searching…"));
    try {
      const r = await api(`/api/${info.name}/search`, { json: {
        query: q, mode: mode.value, query_type: queryType.value, top_k: exclude ? k + 1 : k,
      } });
      const hits = exclude ? withoutItem(r.hits, exclude, k) : r.hits;
      const note = r.mode === "similarity" ? null : h("p", { class: "muted" },
        `${r.matches} stored molecule(s) qualify; ${r.candidates} checked exactly.`);
      replace(results, resultsHeading(hits.length, "molecules"), note,
        hits.length ? h("ul", { class: "grid" }, hits.map((hit) => tile(hit, similarTo)))
          : h("p", {}, "No stored molecule matches."));
    } catch (err) {
      replace(results, errorBox(err));
    }
  };
  // A stored molecule (or a hit) as the query: its SMILES, similarity mode.
  const similarTo = ({ item_id: itemId, smiles }) => {
    query.value = smiles;
    mode.value = "similarity";
    queryType.value = "smiles";
    drawQuery();
    query.scrollIntoView({ block: "nearest" });
    return search(itemId);
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
  browse = browsePanel(info, {
    nameOf: (item) => item.fields.name || item.fields.mol_id || item.fields.smiles,
    imageOf: (item) => depictUrl(info.name, item.fields.smiles, 160),
    detailOf: (item) => h("span", { class: "code smiles" }, item.fields.smiles),
    onSimilar: (item) => similarTo({ item_id: item.item_id, smiles: item.fields.smiles }),
  });
  page.body.append(form, results, browse);
  return page.dispose;
}
