// QA chatbot: a chat view; answers with confidence; below the threshold "I don't
// know" with the closest questions as buttons that ask them. Browse the stored pairs;
// "Find similar" on one (or on a similar question) lists the stored questions like it.
import { api, errorBox } from "../lib/api.js";
import { field, fmtScore, h, replace } from "../lib/dom.js";
import { browsePanel, excerpt, similarButton, withoutItem } from "../lib/browse.js";
import { appPage, resultsHeading } from "../lib/page.js";

const SIMILAR_QUESTIONS = 8;

function confidenceBar(confidence, threshold) {
  const pct = Math.round(Math.max(0, Math.min(1, confidence)) * 100);
  return h("div", { class: "confidence" },
    h("meter", { min: 0, max: 1, low: threshold, optimum: 1, value: confidence,
      "aria-label": "Confidence" }),
    h("span", {}, `confidence ${pct}%`));
}

export function render(root, info) {
  let browse = null;
  const page = appPage(root, info, { onLoaded: () => browse && browse.refresh() });
  const log = h("ol", { class: "chat", "aria-live": "polite", "aria-label": "Conversation" });
  const question = h("input", { type: "text", name: "question", required: true,
    autocomplete: "off", placeholder: "e.g. How can I sort a hash by its values?" });
  const send = h("button", { type: "submit", class: "primary" }, "Ask");

  const say = (who, ...content) => {
    const li = h("li", { class: `msg ${who}` }, content);
    log.append(li);
    li.scrollIntoView({ block: "nearest" });
    return li;
  };

  const ask = async (text) => {
    const q = text.trim();
    if (!q) return;
    say("user", h("p", {}, q));
    const pending = say("bot pending", h("p", { class: "muted" }, "Thinking…"));
    send.disabled = true;
    try {
      const r = await api(`/api/${info.name}/answer`, { json: { question: q } });
      pending.classList.remove("pending");
      pending.replaceChildren(...answerView(r, ask));
      pending.dataset.answered = String(r.answered);
    } catch (err) {
      pending.classList.remove("pending");
      pending.replaceChildren(errorBox(err));
    } finally {
      send.disabled = false;
      question.focus();
    }
  };

  const form = h("form", { class: "search ask", onsubmit: (ev) => {
    ev.preventDefault();
    const q = question.value;
    question.value = "";
    ask(q);
  } }, h("div", { class: "row grow" }, field("Your question", question).wrap, send));

  // The stored questions closest to a stored pair's question, the pair itself left out.
  const similar = h("div", { class: "results", "aria-live": "polite" });
  const similarTo = async (pair) => {
    replace(similar, h("p", { class: "muted" }, "Searching…"));
    try {
      const r = await api(`/api/${info.name}/search`,
        { json: { question: pair.question, top_k: SIMILAR_QUESTIONS + 1, mode: "semantic" } });
      const hits = withoutItem(r.hits, pair.item_id, SIMILAR_QUESTIONS);
      replace(similar, resultsHeading(hits.length, "similar questions"),
        h("p", { class: "muted like" }, `Stored questions like “${pair.question}”`),
        h("ol", { class: "hits" }, hits.map((hit) => h("li", { class: "hit", "data-item-id": hit.item_id },
          h("div", { class: "hit-head" }, h("h3", { class: "hit-title" }, hit.question),
            h("span", { class: "score", title: "cosine similarity" }, fmtScore(hit.score))),
          h("p", { class: "snippet" }, excerpt(hit.answer, 220)),
          h("div", { class: "row" },
            h("button", { type: "button", class: "link", onclick: () => ask(hit.question) }, "Ask this"),
            similarButton(hit.question, () => similarTo(hit)))))));
    } catch (err) {
      replace(similar, errorBox(err));
    }
  };
  browse = browsePanel(info, {
    layout: "list",
    nameOf: (item) => item.fields.question || item.item_id,
    imageOf: () => null,
    detailOf: (item) => excerpt(item.fields.answer, 160),
    onSimilar: (item) => similarTo({ item_id: item.item_id, question: item.fields.question }),
  });
  page.body.append(log, form, similar, browse);
  return page.dispose;
}

function answerView(r, ask) {
  const related = (r.related || []).map((rq) => h("li", {}, h("button", {
    type: "button", class: "link", onclick: () => ask(rq.question),
  }, rq.question), h("span", { class: "score" }, ` ${Math.round(rq.score * 100)}%`)));
  if (r.answered) {
    return [
      h("p", { class: "matched" }, "Closest known question: ", h("em", {}, r.matched_question)),
      h("div", { class: "answer" }, r.answer),
      confidenceBar(r.confidence, r.threshold),
      related.length ? h("details", { class: "related" }, h("summary", {}, "Related questions"),
        h("ul", {}, related)) : null,
    ];
  }
  return [
    h("p", { class: "unknown" }, r.message || "I don't know."),
    confidenceBar(r.confidence, r.threshold),
    related.length ? h("div", { class: "related" }, h("p", {}, "Did you mean:"),
      h("ul", {}, related)) : null,
  ];
}
