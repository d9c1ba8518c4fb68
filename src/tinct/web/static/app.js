// tinct serve: the page. Plain JavaScript modules, no framework, no network beyond this server.
// Flow: a photo (chosen, dropped or an example from the gallery; the server decodes it and sends
// back its luma) -> what the user has (a group of methods) and a method -> its tools (strength,
// colour photo, scribbles with zoom, palette and eyedropper) -> Colorize (one method, or two side
// by side) -> the result. Several photos at once run as a batch with a zip download.
// After any error the page shows what it really has: a refused file is not left in the chooser.
"use strict";

import { $, api, loadImage, pollJob, startJob, upload } from "./api.js";
import { currentMethod, fillMethods, methodFields, secondMethod, selectGroup } from "./methods.js";
import { resetResult, runBatch, setupResults, showPair, showSingle } from "./results.js";
import { redraw, resetCanvas, scribbles, scribblesBlob, setPickSource, setupScribbles } from "./scribble.js";

const state = { config: null, image: null, reference: null, busy: false };

// ------------------------------------------------------------------ messages and buttons
function showError(message) { $("error").textContent = message; $("error").hidden = false; }
function clearError() { $("error").hidden = true; $("error").textContent = ""; }
function setStatus(text) { $("status").textContent = text; }

function missingInputs() {
  const m = currentMethod();
  const missing = [];
  if (!state.image) missing.push("a photo");
  if (m && m.needs.includes("reference") && !state.reference) missing.push("a colour photo");
  if (m && m.needs.includes("hints") && scribbles.strokes.length === 0) missing.push("some scribbles");
  return missing;
}

// The server refuses a job over its memory budget; the page says so before anything is sent.
function tooLarge(m) {
  if (!m || !state.image || state.image.width * state.image.height <= m.max_pixels) return null;
  const scale = Math.sqrt(m.max_pixels / (state.image.width * state.image.height));
  const size = `${Math.floor(state.image.width * scale)}×${Math.floor(state.image.height * scale)}`;
  return m.max_pixels < 10000 ? `${m.name} cannot run within this server's memory budget`
    : `this photo is too large for ${m.name} within the server's memory budget: shrink it to ${size} or less, or choose another method`;
}

function update() {
  const m = currentMethod();
  const missing = missingInputs();
  const warning = tooLarge(m) || tooLarge(secondMethod());
  $("size-warning").textContent = warning || "";
  $("size-warning").hidden = !warning;
  $("colorize").disabled = state.busy || missing.length > 0 || Boolean(warning);
  $("colorize").title = missing.length ? `needs ${missing.join(", ")}` : "";
  $("colorize").textContent = secondMethod() ? "Colorize with both" : "Colorize";
  const n = scribbles.strokes.length;
  $("undo").disabled = $("clear").disabled = n === 0;
  $("stroke-count").textContent = n ? `${n} stroke${n > 1 ? "s" : ""}` : "no strokes";
  scribbles.enabled = Boolean(m && m.accepts.includes("hints") && state.image);
  $("scribbles").style.pointerEvents = scribbles.enabled ? "auto" : "none";
  $("scribbles").style.visibility = m && m.accepts.includes("hints") ? "visible" : "hidden";
  for (const el of document.querySelectorAll("#gallery button, #photo")) el.disabled = state.busy;
}

function describe(info) {
  return `${info.name}: ${info.width}×${info.height}` + (info.note ? ` — ${info.note}` : "");
}

// ------------------------------------------------------------------ photo, reference, examples
async function showPhoto(info) {
  await loadImage($("input-image"), `/api/uploads/${info.id}/preview.png`);
  state.image = info;
  $("viewport").hidden = $("zoom-tools").hidden = false;
  $("input-placeholder").hidden = true;
  resetCanvas(info.width, info.height);
  $("photo-note").textContent = describe(info);
  resetResult();
}

// A refused file leaves everything as it was (the previous photo, its name, its scribbles), and
// the chooser is emptied so it does not show a file that is not in use.
async function onPhotoFiles(files) {
  if (!files.length) return;
  clearError();
  try {
    if (files.length > 1) await batch(files);
    else await onePhoto(files[0]);
  } finally {
    $("photo").value = "";
    update();
  }
}

async function onePhoto(file) {
  setStatus(`reading ${file.name}…`);
  try {
    await showPhoto(await upload(file, "image", state.config));
    setPickSource(null);
    setStatus("");
  } catch (err) {
    setStatus("");
    showError(err.message + (state.image ? ` — still using ${state.image.name}` : ""));
  }
}

async function onReference(file) {
  if (!file) return;
  clearError();
  try {
    await setReference(await upload(file, "reference", state.config));
  } catch (err) {
    showError(err.message + (state.reference ? ` — still using ${state.reference.name}` : ""));
  } finally {
    $("reference").value = "";
    update();
  }
}

async function setReference(info) {
  await loadImage($("reference-preview"), `/api/uploads/${info.id}/preview.png`);
  state.reference = info;
  $("reference-preview").hidden = false;
  $("reference-note").textContent = describe(info);
}

async function onExample(example) {
  clearError();
  state.busy = true;
  update();
  setStatus(`loading the example ${example.title}…`);
  try {
    const loaded = await api(`/api/examples/${example.name}`, { method: "POST" });
    await showPhoto(loaded.image);
    if (loaded.reference) await setReference(loaded.reference);
    setPickSource(loaded.palette_url);
    const current = currentMethod();
    if (!current || current.group !== example.group) selectGroup(example.group);
    setStatus(example.group === "scribbles" ? "paint a few strokes, then Colorize" : "");
  } catch (err) {
    setStatus("");
    showError(err.message);
  } finally {
    state.busy = false;
    update();
  }
}

function fillGallery(examples) {
  for (const example of examples) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "example";
    button.dataset.example = example.name;
    button.title = `try ${example.title}`;
    const img = document.createElement("img");
    img.src = example.thumbnail_url;
    img.alt = example.title;
    const label = document.createElement("span");
    label.textContent = example.title;
    button.append(img, label);
    button.addEventListener("click", () => onExample(example));
    $("gallery").appendChild(button);
  }
}

// ------------------------------------------------------------------ colorize
async function requestFor(m, hintsId) {
  const request = { image: state.image.id, ...methodFields(m) };
  if (m.accepts.includes("reference") && state.reference) request.reference = state.reference.id;
  if (m.accepts.includes("hints") && hintsId) request.hints = hintsId;
  const caption = $("caption").value.trim();
  if (m.accepts.includes("caption") && caption) request.caption = caption;
  return request;
}

function showProgress(status) {
  const bar = $("progress");
  bar.hidden = false;
  if (status.indeterminate) bar.removeAttribute("value"); else bar.value = status.fraction;
  const elapsed = status.elapsed_s ? ` (${status.elapsed_s.toFixed(1)} s)` : "";
  setStatus(`${status.method}: ${status.message}${elapsed}`);
}

async function colorize() {
  const chosen = [currentMethod(), secondMethod()].filter(Boolean);
  clearError();
  state.busy = true;
  update();
  showProgress({ fraction: 0, message: "starting", method: chosen[0].name });
  try {
    let hintsId = null;
    if (chosen.some((m) => m.accepts.includes("hints")) && scribbles.strokes.length) {
      setStatus("sending the scribbles…");
      const blob = await scribblesBlob();
      hintsId = (await upload(new File([blob], "scribbles.png", { type: "image/png" }), "hints", state.config)).id;
    }
    const jobs = [];
    for (const m of chosen) jobs.push(await startJob(await requestFor(m, hintsId)));
    const statuses = [];
    for (const job of jobs) statuses.push(await pollJob(job, showProgress));
    const failed = statuses.find((s) => s.status === "error");
    if (failed) throw new Error(`${failed.method}: ${failed.error || "the colorization failed"}`);
    if (statuses.length === 1) await showSingle(statuses[0], state.image, $("input-image").src);
    else await showPair(statuses, state.image);
    setStatus(statuses.map((s) => `${s.method} done in ${s.elapsed_s.toFixed(1)} s${s.note ? ` (${s.note})` : ""}`).join("; "));
  } catch (err) {
    setStatus("");
    showError(err.message);
  } finally {
    state.busy = false;
    $("progress").hidden = true;
    update();
  }
}

async function batch(files) {
  const m = currentMethod();
  if (m.needs.includes("hints")) {
    showError(`${m.name} needs scribbles on each photo: choose one photo at a time, or a method from "Just a photo"`);
    return;
  }
  if (m.needs.includes("reference") && !state.reference) {
    showError(`${m.name} needs a colour photo: add it first, then choose the photos`);
    return;
  }
  state.busy = true;
  update();
  try {
    const fields = await requestFor(m, null);
    delete fields.image;
    const done = await runBatch(files, fields, { config: state.config, status: setStatus });
    setStatus(`${done} of ${files.length} photos done with ${m.name}`);
  } finally {
    state.busy = false;
    update();
  }
}

// ------------------------------------------------------------------ wiring
function setupDrop() {
  const panel = $("input-panel");
  panel.addEventListener("dragover", (event) => { event.preventDefault(); panel.classList.add("dragging"); });
  panel.addEventListener("dragleave", () => panel.classList.remove("dragging"));
  panel.addEventListener("drop", (event) => {
    event.preventDefault();
    panel.classList.remove("dragging");
    if (!state.busy) onPhotoFiles([...event.dataTransfer.files]);
  });
}

async function init() {
  $("photo").addEventListener("change", (event) => onPhotoFiles([...event.target.files]));
  $("reference").addEventListener("change", (event) => onReference(event.target.files[0]));
  $("colorize").addEventListener("click", colorize);
  setupScribbles(update);
  setupResults();
  setupDrop();
  try {
    state.config = await api("/api/methods");
    fillMethods(state.config, update);
    fillGallery(state.config.examples);
    redraw();
    update();
    document.body.dataset.ready = "1";
  } catch (err) {
    showError(`cannot list the methods: ${err.message}`);
  }
}

init();
