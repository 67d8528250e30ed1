// QA chatbot: a chat view; answers with confidence; below the threshold "I don't
// know" with the closest questions as buttons that ask them.
import { api, errorBox } from "../lib/api.js";
import { field, h } from "../lib/dom.js";
import { appPage } from "../lib/page.js";

function confidenceBar(confidence, threshold) {
  const pct = Math.round(Math.max(0, Math.min(1, confidence)) * 100);
  return h("div", { class: "confidence" },
    h("meter", { min: 0, max: 1, low: threshold, optimum: 1, value: confidence,
      "aria-label": "Confidence" }),
    h("span", {}, `confidence ${pct}%`));
}

export function render(root, info) {
  const page = appPage(root, info);
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
  page.body.append(log, form);
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
