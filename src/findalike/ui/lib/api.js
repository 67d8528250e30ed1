// Calls to the findalike HTTP API. Every failure becomes an ApiError carrying the
// API's error body ({status, title, detail, errors}) so pages can show it.
import { h } from "./dom.js";

export class ApiError extends Error {
  constructor(status, title, detail, errors = []) {
    super(detail || title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
  }
}

async function toError(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  if (body && typeof body === "object" && ("detail" in body || "title" in body)) {
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    return new ApiError(resp.status, body.title || resp.statusText, detail, body.errors || []);
  }
  return new ApiError(resp.status, resp.statusText || "Error", `HTTP ${resp.status}`);
}

// The routes that take `?collection=` (an app's named collection), and which page is open.
const COLLECTION_ROUTE = /^\/api\/([a-z]+)(\/(load|search|search\/upload|count|items|answer|evaluate)(\/[^?]*)?)?(\?|$)/;

/** The named collection picked on the open page (`#/image?collection=logos`), or "". */
export function currentCollection() {
  const [route, query] = location.hash.replace(/^#\/?/, "").split("?");
  const collection = new URLSearchParams(query || "").get("collection") || "";
  return collection ? { app: decodeURIComponent(route.split("/")[0]), name: collection } : null;
}

/** `path` naming the open page's collection, when it is one of that app's core routes. */
function inCollection(path, method) {
  const picked = currentCollection();
  const m = path.match(COLLECTION_ROUTE);
  if (!picked || !m || m[1] !== picked.app || path.includes("collection=")) return path;
  if (!m[2] && method !== "DELETE") return path; // `DELETE /api/{app}` drops the collection
  return `${path}${path.includes("?") ? "&" : "?"}collection=${encodeURIComponent(picked.name)}`;
}

/**
 * Call the API. `json`: a body sent as JSON; `form`: a FormData sent as multipart.
 * Resolves to the parsed JSON (or null for an empty body); rejects with ApiError.
 * Calls to the open page's app go to the collection picked on that page, if any.
 */
export async function api(path, { method, json, form, signal } = {}) {
  const init = { method: method || (json || form ? "POST" : "GET"), signal, headers: {} };
  path = inCollection(path, init.method);
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form) {
    init.body = form;
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "Network error", `Could not reach the server (${err.message}).`);
  }
  if (!resp.ok) throw await toError(resp);
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

/** A readable error box for any error (ApiError or other). */
export function errorBox(err) {
  if (err instanceof ApiError) {
    const items = (err.errors || [])
      .filter((e) => e.message && e.message !== err.detail)
      .map((e) => h("li", {}, e.field ? `${e.field}: ${e.message}` : e.message));
    return h(
      "div",
      { class: "error", role: "alert" },
      h("strong", {}, err.status ? `${err.title} (${err.status})` : err.title),
      h("p", {}, err.detail),
      items.length ? h("ul", {}, items) : null,
    );
  }
  return h("div", { class: "error", role: "alert" }, h("strong", {}, "Error"),
    h("p", {}, String(err && err.message ? err.message : err)));
}

const KEY_COOKIE = "findalike_key";

/**
 * Remember the API key for this site. It lives in a SameSite=Strict cookie, so the
 * browser sends it with every same-site call, image and event stream, and never with
 * a request another site makes it send.
 */
export function setApiKey(key) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  const value = key ? encodeURIComponent(key) : "";
  const age = key ? "; Max-Age=31536000" : "; Max-Age=0";
  document.cookie = `${KEY_COOKIE}=${value}; Path=/; SameSite=Strict${age}${secure}`;
  appsCache = null;
}

/** Whether an API key has been stored for this site. */
export function hasApiKey() {
  return document.cookie.split(";").some((c) => c.trim().startsWith(`${KEY_COOKIE}=`));
}

/** A form that asks for the API key (shown when the server answers 401). */
export function apiKeyForm(err, onSaved) {
  const input = h("input", {
    id: "api-key", type: "password", autocomplete: "current-password",
    "data-testid": "api-key", required: true, minlength: 16,
  });
  const form = h("form", { class: "key-form", onsubmit: (ev) => {
    ev.preventDefault();
    setApiKey(input.value.trim());
    onSaved();
  } },
  h("h1", {}, "API key needed"),
  h("p", {}, err && err.status === 401 && hasApiKey()
    ? "The stored key was refused. Enter another one."
    : "This findalike server needs an API key (ask whoever runs it)."),
  h("label", { for: "api-key" }, "API key"), input,
  h("button", { type: "submit" }, "Save key"));
  return form;
}

let appsCache = null;
/** The list from GET /api/apps (cached for the page's life; `fresh` refetches). */
export async function listApps(fresh = false) {
  if (!appsCache || fresh) appsCache = api("/api/apps").then((page) => page.data);
  try {
    return await appsCache;
  } catch (err) {
    appsCache = null;
    throw err;
  }
}
