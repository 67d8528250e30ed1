// The "Load data" panel every app page has: choose or drop files, send them to
// POST /api/{app}/load, then show the job's live progress from its event stream.
import { api, errorBox } from "./api.js";
import { fmtTime, h, replace, uniqueId } from "./dom.js";
import { isFinal, watchJob } from "./jobs.js";

function statusLine(job) {
  const total = job.total ?? "?";
  const processed = job.done + job.skipped + job.failed;
  if (job.state === "queued") return "Queued…";
  if (isFinal(job)) {
    const parts = [`${job.done} stored`, `${job.skipped} already there`, `${job.failed} failed`];
    const head = job.state === "done" ? "Done" : job.state[0].toUpperCase() + job.state.slice(1);
    const why = job.state !== "done" && job.message ? ` ${job.message}` : "";
    return `${head}: ${parts.join(", ")}.${why}`;
  }
  const rate = job.rate_per_s ? ` · ${job.rate_per_s.toFixed(1)} items/s` : "";
  const eta = job.eta_s != null ? ` · ETA ${fmtTime(job.eta_s)}` : "";
  return `${job.phase || job.state}: ${processed} / ${total}${rate}${eta}`;
}

function failureList(job) {
  if (!job.errors || !job.errors.length) return null;
  const more = job.errors_truncated ? h("li", {}, `… and ${job.errors_truncated} more`) : null;
  return h(
    "details",
    { class: "failures", open: job.errors.length <= 5 },
    h("summary", {}, `${job.failed} item(s) failed`),
    h("ul", {}, job.errors.map((e) => h("li", {}, h("code", {}, e.item || e.label || "?"),
      ": ", e.error || e.message || JSON.stringify(e))), more),
  );
}

/**
 * Build the panel. `info`: the app's entry from /api/apps. `onFinished(job)` is
 * called when a job ends (to refresh counts).
 */
export function loaderPanel(info, onFinished) {
  const exts = [...(info.extensions || []), ".zip"];
  const headingId = uniqueId("load");
  const input = h("input", {
    type: "file", multiple: true, accept: exts.join(","), id: uniqueId("files"),
    name: "files", "data-testid": "load-files",
  });
  const button = h("button", { type: "submit", class: "primary" }, "Load");
  const progress = h("progress", { max: 1, value: 0, "aria-label": "Load progress" });
  const status = h("p", { class: "job-status", role: "status", "aria-live": "polite" });
  const cancel = h("button", { type: "button", class: "secondary", hidden: true }, "Cancel");
  const details = h("div", { class: "job-details" });
  const jobBox = h("div", { class: "job", hidden: true }, progress, h("div", { class: "row" },
    status, cancel), details);
  const messages = h("div");
  let stopWatching = null;
  let currentJob = null;

  const show = (job) => {
    currentJob = job;
    jobBox.hidden = false;
    jobBox.dataset.state = job.state;
    const total = job.total || 0;
    const processed = job.done + job.skipped + job.failed;
    if (total) {
      progress.max = total;
      progress.value = processed;
    } else if (!isFinal(job)) {
      progress.removeAttribute("value"); // indeterminate until the total is known
    }
    if (isFinal(job)) {
      progress.max = Math.max(total, 1);
      progress.value = Math.max(total, 1);
    }
    status.textContent = statusLine(job);
    cancel.hidden = isFinal(job);
    replace(details, failureList(job));
    if (isFinal(job)) {
      button.disabled = false;
      if (onFinished) onFinished(job);
    }
  };

  const follow = (job) => {
    if (stopWatching) stopWatching();
    show(job);
    if (isFinal(job)) return;
    button.disabled = true;
    stopWatching = watchJob(job.id, (j, err) => {
      if (err) {
        replace(messages, errorBox(err));
        button.disabled = false;
        return;
      }
      show(j);
    });
  };

  const submit = async (files) => {
    replace(messages);
    if (!files.length) {
      replace(messages, h("p", { class: "error", role: "alert" }, "Choose at least one file."));
      input.focus();
      return;
    }
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    button.disabled = true;
    try {
      follow(await api(`/api/${info.name}/load`, { form }));
    } catch (err) {
      button.disabled = false;
      replace(messages, errorBox(err));
    }
  };

  cancel.addEventListener("click", async () => {
    if (!currentJob) return;
    try {
      await api(`/api/jobs/${currentJob.id}/cancel`, { method: "POST" });
    } catch (err) {
      replace(messages, errorBox(err));
    }
  });

  const drop = h("div", { class: "dropzone" },
    h("label", { for: input.id }, "Files to load"), input,
    h("small", { class: "hint" }, `Accepted: ${exts.join(", ")} — choose or drop files here.`));
  drop.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    submit([...ev.dataTransfer.files]);
  });

  const form = h("form", { class: "load-form", onsubmit: (ev) => {
    ev.preventDefault();
    submit([...input.files]);
  } }, drop, button);

  const panel = h("section", { class: "panel loader", "aria-labelledby": headingId },
    h("h2", { id: headingId }, "Load data"), form, messages, jobBox);

  // Pick up a load that is already running for this app (e.g. the demo data).
  api(`/api/jobs?app=${encodeURIComponent(info.name)}&limit=1`)
    .then((page) => {
      const jobs = page ? page.data : [];
      if (jobs.length && !isFinal(jobs[0]) && !currentJob) follow(jobs[0]);
    })
    .catch(() => {});

  panel.dispose = () => stopWatching && stopWatching();
  return panel;
}
