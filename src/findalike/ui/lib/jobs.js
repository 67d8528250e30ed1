// Follow a load job: the SSE stream /api/jobs/{id}/events (falls back to polling).
import { api } from "./api.js";

const FINAL = ["done", "failed", "cancelled", "interrupted"];

/**
 * Watch job `id`; `onUpdate(job)` is called at every change, the last call with a
 * finished job. Returns a function that stops watching.
 */
export function watchJob(id, onUpdate) {
  let stopped = false;
  let source = null;
  let timer = null;
  const finish = () => {
    stopped = true;
    if (source) source.close();
    if (timer) clearTimeout(timer);
  };
  const handle = (job) => {
    if (stopped) return;
    onUpdate(job);
    if (FINAL.includes(job.state)) finish();
  };
  const poll = async () => {
    if (stopped) return;
    try {
      handle(await api(`/api/jobs/${encodeURIComponent(id)}`));
    } catch (err) {
      onUpdate(null, err);
      finish();
      return;
    }
    if (!stopped) timer = setTimeout(poll, 500);
  };
  if (typeof EventSource === "function") {
    source = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`);
    const onEvent = (ev) => handle(JSON.parse(ev.data));
    for (const name of ["progress", ...FINAL]) source.addEventListener(name, onEvent);
    source.onerror = () => {
      // The stream ended or broke before a final event: poll instead of reconnecting.
      if (source) source.close();
      source = null;
      poll();
    };
  } else {
    poll();
  }
  return finish;
}

export const isFinal = (job) => FINAL.includes(job.state);
