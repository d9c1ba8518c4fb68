// tinct serve: talking to the server (JSON answers, uploads, job polling) and small DOM helpers.
"use strict";

export const $ = (id) => document.getElementById(id);

export function megabytes(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }

// fetch + JSON; a non-2xx answer throws an Error with the server's one-line message. A 503 (the
// job queue is full) is retried after its Retry-After, a few times, when `retryBusy` is set.
export async function api(path, options = {}, retryBusy = 0) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("the server did not answer; is `tinct serve` still running?");
  }
  const text = await response.text();
  let payload = null;
  try { payload = text ? JSON.parse(text) : {}; } catch (err) { payload = null; }
  if (response.status === 503 && retryBusy > 0) {
    const seconds = Number(response.headers.get("Retry-After")) || 2;
    await sleep(1000 * Math.min(seconds, 10));
    return api(path, options, retryBusy - 1);
  }
  if (!response.ok) {
    throw new Error((payload && payload.error) || `the server answered ${response.status} ${response.statusText}`);
  }
  return payload;
}

export function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

// Upload one file as `role` (image | reference | hints); the size is checked before sending.
export async function upload(file, role, config) {
  const limit = config ? config.max_upload_bytes : Infinity;
  if (file.size > limit) {
    throw new Error(`'${file.name}' is ${megabytes(file.size)}; the limit is ${megabytes(limit)} (tinct serve --max-upload-mb)`);
  }
  if (file.size === 0) throw new Error(`'${file.name}' is empty; choose an image file`);
  const query = new URLSearchParams({ role, name: file.name || role });
  return api(`/api/upload?${query}`, { method: "POST", body: file });
}

export async function startJob(request) {
  const { job } = await api("/api/colorize", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
  }, 5);
  return job;
}

// Poll a job until it ends; `onProgress(status)` is called while it waits or runs.
export async function pollJob(jobId, onProgress = () => {}) {
  for (;;) {
    const status = await api(`/api/jobs/${jobId}`);
    if (status.status === "done" || status.status === "error") return status;
    onProgress(status);
    await sleep(250);
  }
}

export function loadImage(img, src) {
  return new Promise((resolve, reject) => {
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the browser could not show the image"));
    img.src = src;
  });
}
