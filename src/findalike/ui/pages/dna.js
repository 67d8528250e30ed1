// DNA: paste a sequence or FASTA (or open a file); the predicted class with its
// confidence and the neighbours; the held-out evaluation with a confusion heat map and
// the comparison of the encoders on the same split (pick one with FINDALIKE_DNA_ENCODER).
import { api, errorBox } from "../lib/api.js";
import { browsePanel, excerpt } from "../lib/browse.js";
import { field, fmtScore, h, replace } from "../lib/dom.js";
import { appPage, resultsHeading } from "../lib/page.js";

const pct = (x) => `${(x * 100).toFixed(1)}%`;
const points = (d) => `${d >= 0 ? "+" : "−"}${Math.abs(d * 100).toFixed(1)} pts`;

function votesView(votes) {
  const entries = Object.entries(votes).sort((a, b) => b[1] - a[1]);
  const total = entries.reduce((s, [, v]) => s + v, 0) || 1;
  return h("ul", { class: "votes", "aria-label": "Votes per class" }, entries.map(([label, v]) =>
    h("li", {}, h("span", { class: "code" }, label),
      h("span", { class: "bar", "aria-hidden": "true" },
        h("span", { style: `width:${(100 * v) / total}%` })),
      h("span", { class: "score" }, pct(v / total)))));
}

function neighboursTable(hits) {
  return h("div", { class: "scroll" }, h("table", { class: "neighbours" },
    h("thead", {}, h("tr", {}, ["#", "Class", "Sequence id", "Length", "Similarity", "Starts"]
      .map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, hits.map((n, i) => h("tr", {},
      h("td", {}, String(i + 1)), h("td", { class: "code" }, n.label),
      h("td", { class: "code" }, n.seq_id), h("td", {}, String(n.length)),
      h("td", {}, fmtScore(n.score)), h("td", { class: "code" }, n.preview))))));
}

/** The confusion matrix as a table whose cells are shaded by their row share. */
export function heatMap(labels, confusion) {
  const cell = (count, rowTotal, diagonal) => {
    const share = rowTotal ? count / rowTotal : 0;
    const hue = diagonal ? "31,78,140" : "160,40,40";
    const ink = share > 0.55 ? "#fff" : "#1b1f24";
    return h("td", { style: `background: rgba(${hue},${share.toFixed(3)}); color:${ink}`,
      title: `${count} (${pct(share)} of the row)` }, String(count));
  };
  return h("div", { class: "scroll" }, h("table", { class: "heat", "aria-label":
    "Confusion matrix: rows are true classes, columns predicted classes" },
  h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "true \\ predicted"),
    labels.map((l) => h("th", { scope: "col", class: "code" }, l)))),
  h("tbody", {}, confusion.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return h("tr", {}, h("th", { scope: "row", class: "code" }, labels[i]),
      row.map((c, j) => cell(c, total, i === j)));
  }))));
}

/** One row per encoder: held-out accuracy on the same split, or why it does not apply. */
function encodersTable(r) {
  const note = (e) => [e.current ? "stored vectors" : "", e.encoder === r.best ? "best" : ""]
    .filter(Boolean).join(", ");
  return h("div", { class: "scroll" }, h("table", { class: "encoders",
    "data-testid": "encoders", "aria-label": "Held-out accuracy per encoder" },
  h("thead", {}, h("tr", {}, ["Encoder", "Dimensions", "Accuracy", "vs majority", "Note"]
    .map((c) => h("th", { scope: "col" }, c)))),
  h("tbody", {}, r.encoders.map((e) => h("tr", { "data-encoder": e.encoder },
    h("td", { class: "code" }, e.encoder), h("td", {}, String(e.dim)),
    h("td", {}, e.applicable ? pct(e.accuracy) : "n/a"),
    h("td", {}, e.applicable ? points(e.accuracy - r.majority_baseline) : ""),
    h("td", {}, e.applicable ? note(e) : e.reason))))));
}

function evaluationView(r) {
  return [
    h("h2", {}, "Held-out evaluation"),
    h("p", { "data-testid": "accuracy" }, h("strong", {}, `Accuracy ${pct(r.accuracy)}`),
      ` on ${r.held_out} held-out sequences (trained on ${r.training}, ${r.neighbours} neighbours, `,
      `encoder ${r.encoder}); majority-class baseline ${pct(r.majority_baseline)} `,
      `(“${r.majority_label}”).`),
    h("h3", {}, "Encoders compared on the same split"),
    encodersTable(r),
    h("p", { class: "muted" }, `Best: ${r.best}. Choose the encoder with `,
      h("span", { class: "code" }, "FINDALIKE_DNA_ENCODER"),
      " (position-aware ones need FINDALIKE_DNA_SEQUENCE_LENGTH) and load again."),
    ...r.encoders.filter((e) => e.position_weights).map((e) => h("details", {},
      h("summary", {}, `Position weights of ${e.encoder} (learned on the training split)`),
      h("pre", { class: "code" },
        `FINDALIKE_DNA_ENCODER=weighted-onehot\nFINDALIKE_DNA_SEQUENCE_LENGTH=${e.position_weights.length}\n`
        + `FINDALIKE_DNA_POSITION_WEIGHTS='${JSON.stringify(e.position_weights)}'`))),
    h("h3", {}, `Confusion matrix (${r.encoder})`),
    heatMap(r.labels, r.confusion),
    h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Class", "Precision", "Recall", "Support"]
        .map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, r.per_class.map((c) => h("tr", {}, h("td", { class: "code" }, c.label),
        h("td", {}, pct(c.precision)), h("td", {}, pct(c.recall)),
        h("td", {}, String(c.support))))))),
  ];
}

export function render(root, info) {
  let browse = null;
  const page = appPage(root, info, { onLoaded: () => browse && browse.refresh() });
  const seq = h("textarea", { name: "sequence", rows: 6, spellcheck: false, class: "code",
    required: true, placeholder: ">my sequence\nACGTTGCA…" });
  const file = h("input", { type: "file", accept: ".fa,.fasta,.fna,.txt" });
  file.addEventListener("change", async () => {
    if (file.files[0]) seq.value = await file.files[0].text();
  });
  const out = h("div", { class: "results", "aria-live": "polite" });
  const evalOut = h("div", { class: "results", "aria-live": "polite" });
  const classify = async () => {
    if (!seq.value.trim()) return;
    replace(out, h("p", { class: "muted" }, "Classifying…"));
    try {
      const r = await api(`/api/${info.name}/classify`, { json: { sequence: seq.value } });
      replace(out,
        h("p", { class: "prediction", "data-testid": "prediction" }, "Predicted class: ",
          h("strong", { class: "code" }, r.label ?? "none (nothing stored)"),
          ` — confidence ${pct(r.confidence)}`),
        votesView(r.votes || {}),
        resultsHeading(r.neighbours.length, "nearest sequences"), neighboursTable(r.neighbours));
    } catch (err) {
      replace(out, errorBox(err));
    }
  };
  const evaluate = async () => {
    replace(evalOut, h("p", { class: "muted" }, "Evaluating on a held-out share…"));
    try {
      replace(evalOut, evaluationView(await api(`/api/${info.name}/evaluate`, { json: {} })));
    } catch (err) {
      replace(evalOut, errorBox(err));
    }
  };
  const form = h("form", { class: "search", onsubmit: (ev) => {
    ev.preventDefault();
    classify();
  } },
  field("DNA sequence or FASTA", seq, "Letters A, C, G, T, N; a FASTA header line is ignored.").wrap,
  field("…or open a FASTA file", file).wrap,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Classify"),
    h("button", { type: "button", class: "secondary", onclick: evaluate },
      "Evaluate accuracy (held-out)")));
  browse = browsePanel(info, {
    layout: "list",
    imageOf: () => null,
    nameOf: (item) => `${item.fields.seq_id || item.item_id} (${item.fields.label})`,
    detailOf: (item) => h("span", { class: "code" },
      `${item.fields.length} letters: ${excerpt(item.fields.sequence || item.fields.preview, 60)}`),
    onSimilar: (item) => {
      seq.value = item.fields.sequence || item.fields.preview;
      classify();
      out.scrollIntoView({ block: "start" });
    },
  });
  page.body.append(form, out, evalOut, browse);
  return page.dispose;
}
