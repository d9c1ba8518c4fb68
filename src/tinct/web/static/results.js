// tinct serve: showing results: one result with a before/after slider, two methods side by side,
// or a batch of photos in a table with one zip download.
"use strict";

import { $, loadImage, pollJob, startJob, upload } from "./api.js";

function downloadName(imageName, method) {
  return `${(imageName || "image").replace(/\.[^.]*$/, "")}-${method}.png`;
}

export function resetResult() {
  for (const id of ["compare", "result-tools", "side-by-side", "batch"]) $(id).hidden = true;
  $("result-placeholder").hidden = false;
  $("result-image").removeAttribute("src");
  $("side-by-side").textContent = "";
}

function setCompare(percent) {
  // Left of the divider: before (the gray input); right: after (the result).
  $("result-image").style.clipPath = `inset(0 0 0 ${percent}%)`;
  $("divider").style.left = `${percent}%`;
}

export function setupResults() {
  $("compare-slider").addEventListener("input", (event) => setCompare(Number(event.target.value)));
}

// One result: before/after slider and a download link.
export async function showSingle(status, image, inputSrc) {
  resetResult();
  await loadImage($("before-image"), inputSrc);
  await loadImage($("result-image"), `${status.result_url}?job=${status.id}`);
  $("compare").style.maxWidth = `calc(80vh * ${image.width / image.height})`;
  $("compare").hidden = false;
  $("result-tools").hidden = false;
  $("result-placeholder").hidden = true;
  const link = $("download");
  link.href = `${status.result_url}?download=1`;
  link.download = downloadName(image.name, status.method);
  link.dataset.job = status.id;
  setCompare(Number($("compare-slider").value));
}

// Two methods side by side, each with its name, time and download link.
export async function showPair(statuses, image) {
  resetResult();
  const box = $("side-by-side");
  for (const status of statuses) {
    const figure = document.createElement("figure");
    figure.className = "result-card";
    figure.dataset.method = status.method;
    const img = document.createElement("img");
    img.alt = `result of ${status.method}`;
    const caption = document.createElement("figcaption");
    const strength = status.saturation == null ? "" : `, strength ${status.saturation.toFixed(1)}`;
    caption.textContent = `${status.method} (${status.elapsed_s.toFixed(1)} s${strength}) `;
    const link = document.createElement("a");
    link.className = "button";
    link.textContent = "Download";
    link.href = `${status.result_url}?download=1`;
    link.download = downloadName(image.name, status.method);
    caption.appendChild(link);
    figure.append(img, caption);
    box.appendChild(figure);
    await loadImage(img, `${status.result_url}?job=${status.id}`);
  }
  box.hidden = false;
  $("result-placeholder").hidden = true;
}

// Several photos with one method: upload, colorize (a full queue is retried after Retry-After),
// show each row as it ends, then offer every result in one zip. A failed photo fails its row only.
export async function runBatch(files, fields, ctx) {
  resetResult();
  const body = $("batch-table").querySelector("tbody");
  body.textContent = "";
  $("batch").hidden = false;
  $("batch-zip").hidden = true;
  $("result-placeholder").hidden = true;
  const done = [];
  for (const [index, file] of files.entries()) {
    const row = body.insertRow();
    row.dataset.index = String(index);
    row.insertCell().textContent = file.name;
    const cell = row.insertCell();
    const state = row.insertCell();
    ctx.status(`photo ${index + 1} of ${files.length}: ${file.name}`);
    try {
      state.textContent = "uploading";
      const info = await upload(file, "image", ctx.config);
      state.textContent = "colorizing";
      const job = await startJob({ ...fields, image: info.id });
      const status = await pollJob(job, (s) => { state.textContent = s.message; });
      if (status.status === "error") throw new Error(status.error);
      const img = document.createElement("img");
      img.alt = `result for ${file.name}`;
      await loadImage(img, `${status.result_url}?job=${status.id}`);
      cell.appendChild(img);
      state.textContent = `done in ${status.elapsed_s.toFixed(1)} s`;
      row.classList.add("done");
      done.push(status.id);
    } catch (err) {
      state.textContent = err.message;
      row.classList.add("failed");
    }
  }
  if (done.length) {
    const zip = $("batch-zip");
    zip.href = `/api/results.zip?jobs=${done.join(",")}`;
    zip.download = "tinct-results.zip";
    zip.textContent = `Download all ${done.length} (zip)`;
    zip.hidden = false;
  }
  return done.length;
}
