// Home: every app with its item count and encoder; disabled apps with the reason.
import { api } from "../lib/api.js";
import { h } from "../lib/dom.js";

function card(app) {
  const title = app.enabled
    ? h("a", { href: `#/${app.name}` }, app.title || app.name)
    : h("span", {}, app.title || app.name);
  const facts = app.enabled
    ? h("dl", { class: "facts" },
      h("dt", {}, "Items"), h("dd", { "data-testid": "items" }, app.items == null ? "–" : String(app.items)),
      h("dt", {}, "Encoder"), h("dd", {}, app.encoder ? `${app.encoder} (${app.dim}-d, ${app.metric})`
        : "loads at first use"),
      h("dt", {}, "Reads"), h("dd", {}, [...(app.extensions || []), ".zip"].join(" ")))
    : h("p", { class: "reason" }, `Disabled: ${app.reason || "unknown reason"}`);
  return h("li", { class: `card${app.enabled ? "" : " disabled"}`, "data-app": app.name },
    h("h2", {}, title), h("p", {}, app.summary || ""), facts,
    app.enabled && app.reason ? h("p", { class: "reason" }, app.reason) : null);
}

export function render(root, apps) {
  const health = h("p", { class: "health", role: "status" }, "Checking Milvus…");
  root.append(
    h("h1", {}, "findalike"),
    h("p", { class: "lead" }, "Similarity search over text, questions, images, video, audio, ",
      "molecules, DNA and ratings. Pick an app, load data, search."),
    health,
    h("ul", { class: "cards", "aria-label": "Apps" }, apps.map(card)),
    h("p", {}, "The HTTP API: ", h("a", { href: "/docs" }, "interactive docs (/docs)"), " · ",
      h("a", { href: "/redoc" }, "reference (/redoc)"), "."),
  );
  api("/api/health")
    .then((r) => {
      const where = r.milvus.uri ? ` at ${r.milvus.uri}` : "";  // shown to a write key only
      health.textContent = `Milvus ${r.milvus.version || ""}${where}: ok`;
    })
    .catch((err) => {
      health.textContent = `Milvus unavailable: ${err.detail || err.message}`;
      health.classList.add("error");
    });
}
