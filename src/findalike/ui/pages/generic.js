// A page for any app without a purpose-built view: load data, and send a search
// request written as JSON (pre-filled from the API's schema), with the reply shown.
import { api, errorBox } from "../lib/api.js";
import { field, h, replace } from "../lib/dom.js";
import { appPage } from "../lib/page.js";

let openapi = null;
async function schemaExample(name) {
  openapi = openapi || api("/openapi.json");
  const spec = await openapi;
  const op = spec.paths?.[`/api/${name}/search`]?.post;
  const ref = op?.requestBody?.content?.["application/json"]?.schema?.$ref;
  const schema = ref ? spec.components.schemas[ref.split("/").pop()] : null;
  const example = {};
  for (const [key, prop] of Object.entries(schema?.properties || {})) {
    if (prop.examples?.length) example[key] = prop.examples[0];
    else if ("default" in prop) example[key] = prop.default;
    else if ((schema.required || []).includes(key)) example[key] = "";
  }
  return example;
}

export function render(root, info) {
  const page = appPage(root, info);
  const body = h("textarea", { rows: 6, spellcheck: false, class: "code" }, "{}");
  const out = h("div", { class: "results", "aria-live": "polite" });
  schemaExample(info.name).then((ex) => { body.value = JSON.stringify(ex, null, 2); })
    .catch(() => {});
  const form = h("form", { class: "search", onsubmit: async (ev) => {
    ev.preventDefault();
    let json;
    try {
      json = JSON.parse(body.value);
    } catch (err) {
      replace(out, h("p", { class: "error", role: "alert" }, `Not valid JSON: ${err.message}`));
      return;
    }
    try {
      const resp = await api(`/api/${info.name}/search`, { json });
      replace(out, h("pre", { class: "code" }, JSON.stringify(resp, null, 2)));
    } catch (err) {
      replace(out, errorBox(err));
    }
  } },
  field("Search request (JSON)", body, "See /docs for this app's fields.").wrap,
  h("button", { type: "submit", class: "primary" }, "Search"));
  page.body.append(form, out);
  return page.dispose;
}
