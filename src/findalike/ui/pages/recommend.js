// Recommendations: train the model (a job), pick a stored user or like a few items,
// see recommended titles; similar items; hold-out precision vs popularity.
import { api, errorBox } from "../lib/api.js";
import { browsePanel } from "../lib/browse.js";
import { field, fmtScore, h, replace } from "../lib/dom.js";
import { isFinal, watchJob } from "../lib/jobs.js";
import { appPage, resultsHeading } from "../lib/page.js";

export function render(root, info) {
  const liked = new Map(); // item id -> title
  const modelLine = h("p", { class: "model-status", role: "status", "data-testid": "model" });
  const out = h("div", { class: "results", "aria-live": "polite" });
  const evalOut = h("div", { class: "results", "aria-live": "polite" });
  const likedList = h("ul", { class: "liked" });
  const trainBtn = h("button", { type: "button", class: "primary" }, "Train model");
  const progress = h("progress", { max: 1, value: 0, hidden: true, "aria-label": "Training" });

  let browse = null;
  const refreshModel = async () => {
    try {
      const m = await api(`/api/${info.name}/model`);
      modelLine.textContent = m.version == null ? "No model trained yet: load ratings, then train."
        : `Model v${m.version}: ${m.users} users, ${m.items} items, ${m.factors} factors, `
          + `trained on ${m.trained_on_ratings} ratings.`;
      modelLine.dataset.version = m.version ?? "";
      if (browse) browse.refresh(); // training stores the item vectors
    } catch (err) {
      modelLine.textContent = err.detail || err.message;
    }
  };
  const page = appPage(root, info, { onLoaded: refreshModel });

  trainBtn.addEventListener("click", async () => {
    trainBtn.disabled = true;
    try {
      const job = await api(`/api/${info.name}/train`, { method: "POST" });
      progress.hidden = false;
      watchJob(job.id, (j, err) => {
        if (err || !j) {
          modelLine.textContent = err ? err.message : "lost the job";
          trainBtn.disabled = false;
          return;
        }
        progress.max = j.total || 1;
        progress.value = j.done;
        modelLine.textContent = `Training: ${j.done} / ${j.total ?? "?"} iterations`;
        if (isFinal(j)) {
          trainBtn.disabled = false;
          progress.hidden = true;
          if (j.state !== "done") replace(out, errorBox(new Error(j.message || j.state)));
          refreshModel();
          page.refresh();
        }
      });
    } catch (err) {
      trainBtn.disabled = false;
      replace(out, errorBox(err));
    }
  });

  const renderLiked = () => {
    replace(likedList, [...liked].map(([id, title]) => h("li", {}, `${title} `,
      h("button", { type: "button", class: "link", "aria-label": `Unlike ${title}`,
        onclick: () => { liked.delete(id); renderLiked(); } }, "remove"))));
  };
  const itemRow = (it) => h("li", { class: "hit rec" },
    h("div", { class: "hit-head" }, h("h3", { class: "hit-title" }, it.title || it.item_id),
      h("span", { class: "score" }, fmtScore(it.score))),
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", onclick: () => {
        liked.set(it.item_id, it.title || it.item_id);
        renderLiked();
      } }, "♥ Like"),
      h("button", { type: "button", class: "secondary", onclick: () => similar(it.item_id) },
        "Similar items")));
  const showList = (title, r) => replace(out, h("h2", {}, title),
    resultsHeading(r.hits.length, "items"), h("ol", { class: "hits" }, r.hits.map(itemRow)),
    r.unknown_items?.length ? h("p", { class: "muted" }, `Unknown items ignored: ${r.unknown_items.join(", ")}`) : null);
  const run = async (title, call) => {
    replace(out, h("p", { class: "muted" }, "Working…"));
    try {
      showList(title, await call());
    } catch (err) {
      replace(out, errorBox(err));
    }
  };
  const similar = (item) => run(`Similar to item ${item}`,
    () => api(`/api/${info.name}/items/${encodeURIComponent(item)}/similar?top_k=10`));

  const user = h("input", { type: "text", name: "user", required: true, placeholder: "e.g. 1" });
  const userForm = h("form", { class: "search", onsubmit: (ev) => {
    ev.preventDefault();
    const u = user.value.trim();
    if (u) run(`For user ${u}`, () => api(`/api/${info.name}/users/${encodeURIComponent(u)}?top_k=10`));
  } }, h("div", { class: "row grow" }, field("Recommend for a stored user", user).wrap,
    h("button", { type: "submit", class: "primary" }, "Recommend")));

  const likeInput = h("input", { type: "text", name: "item", placeholder: "an item id, e.g. 1002" });
  const likeForm = h("form", { class: "search", onsubmit: (ev) => {
    ev.preventDefault();
    for (const id of likeInput.value.split(/[\s,]+/).filter(Boolean)) liked.set(id, `item ${id}`);
    likeInput.value = "";
    renderLiked();
  } },
  h("div", { class: "row grow" }, field("Items you like (ids)", likeInput).wrap,
    h("button", { type: "submit", class: "secondary" }, "Add")),
  h("p", { class: "muted" }, "Liked so far:"), likedList,
  h("button", { type: "button", class: "primary", onclick: () => {
    if (!liked.size) return replace(out, h("p", { class: "error", role: "alert" }, "Like an item first."));
    return run("For your likes", () => api(`/api/${info.name}/fold-in`,
      { json: { items: [...liked.keys()], top_k: 10 } }));
  } }, "Recommend from my likes"));

  const evaluate = async () => {
    replace(evalOut, h("p", { class: "muted" }, "Evaluating on a hold-out split…"));
    try {
      const r = await api(`/api/${info.name}/evaluate`, { json: {} });
      const row = (name, m) => h("tr", {}, h("th", { scope: "row" }, name),
        h("td", {}, m.precision.toFixed(3)), h("td", {}, m.recall.toFixed(3)),
        h("td", {}, m.ndcg.toFixed(3)));
      replace(evalOut, h("h2", {}, `Hold-out evaluation at k=${r.k} (${r.holdout})`),
        h("p", {}, `${r.users_evaluated} users; ${r.train_ratings} training and ${r.test_ratings} test ratings.`),
        h("table", { "data-testid": "evaluation" }, h("thead", {}, h("tr", {},
          ["", `precision@${r.k}`, `recall@${r.k}`, `NDCG@${r.k}`].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, row("ALS model", r.model), row("Most popular", r.popularity))));
    } catch (err) {
      replace(evalOut, errorBox(err));
    }
  };

  page.body.append(
    h("section", { class: "panel" }, h("h2", {}, "Model"), modelLine, progress,
      h("div", { class: "row" }, trainBtn, h("button", { type: "button", class: "secondary",
        onclick: evaluate }, "Evaluate vs popularity"))),
    userForm, likeForm, out, evalOut,
    browse = browsePanel(info, {
      layout: "list",
      imageOf: () => null,
      nameOf: (item) => item.fields.title || item.item_id,
      detailOf: (item) => `item ${item.item_id} · ${item.fields.n_ratings} ratings`,
      onSimilar: (item) => {
        similar(item.item_id);
        out.scrollIntoView({ block: "start" });
      },
    }));
  refreshModel();
  return page.dispose;
}
