// The single-page shell: a hash router (#/ home, #/<app> an app's page) and the nav.
import { apiKeyForm, errorBox, listApps } from "./lib/api.js";
import { h, replace } from "./lib/dom.js";

// Pages with a purpose-built view; any other enabled app gets the generic page.
const PAGES = {
  text: () => import("./pages/text.js"),
  qa: () => import("./pages/qa.js"),
  image: () => import("./pages/image.js"),
  video: () => import("./pages/video.js"),
  objects: () => import("./pages/objects.js"),
  people: () => import("./pages/people.js"),
  audio: () => import("./pages/audio.js"),
  molecule: () => import("./pages/molecule.js"),
  dna: () => import("./pages/dna.js"),
  recommend: () => import("./pages/recommend.js"),
};

const main = document.getElementById("main");
let disposeCurrent = null;

function currentRoute() {
  const path = location.hash.replace(/^#\/?/, "").split("?")[0];
  return decodeURIComponent(path.split("/")[0] || "");
}

function renderNav(apps, active) {
  const nav = document.getElementById("nav");
  replace(nav,
    h("li", {}, h("a", { href: "#/", "aria-current": active === "" ? "page" : false }, "Home")),
    apps.filter((a) => a.enabled).map((a) => h("li", {}, h("a", {
      href: `#/${a.name}`, "aria-current": active === a.name ? "page" : false,
    }, a.title || a.name))),
  );
}

async function loadPage(name) {
  const loader = PAGES[name];
  if (loader) {
    try {
      return await loader();
    } catch (err) {
      console.warn(`page for ${name} failed to load; using the generic page`, err);
    }
  }
  return import("./pages/generic.js");
}

async function route() {
  if (disposeCurrent) disposeCurrent();
  disposeCurrent = null;
  const name = currentRoute();
  let apps = [];
  try {
    apps = await listApps(name === "");
  } catch (err) {
    if (err.status === 401) {
      replace(main, apiKeyForm(err, route));
      return;
    }
    replace(main, h("h1", {}, "findalike"), errorBox(err));
    return;
  }
  renderNav(apps, name);
  const container = h("div", { class: "page" });
  replace(main, container);
  try {
    if (name === "") {
      const home = await import("./pages/home.js");
      document.title = "findalike";
      disposeCurrent = home.render(container, apps) || null;
    } else {
      const info = apps.find((a) => a.name === name);
      if (!info) {
        replace(container, h("h1", {}, "Not found"),
          h("p", {}, `There is no app called “${name}”. `, h("a", { href: "#/" }, "See all apps.")));
        return;
      }
      document.title = `${info.title || name} · findalike`;
      if (!info.enabled) {
        replace(container, h("h1", {}, info.title || name),
          h("p", { class: "error", role: "alert" }, `This app is disabled: ${info.reason}`));
        return;
      }
      const page = await loadPage(name);
      disposeCurrent = page.render(container, info) || null;
    }
  } catch (err) {
    replace(container, errorBox(err));
  }
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
route();
