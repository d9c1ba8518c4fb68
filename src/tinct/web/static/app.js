// tinct serve: the page. Plain JavaScript, no framework, no network beyond this server.
// Flow: upload the photo (the server decodes it and sends back its luma as PNG) -> pick a method
// (its `accepts` decides whether the reference and scribble tools show) -> draw strokes on a
// transparent canvas the size of the image -> Colorize uploads the strokes as an RGBA PNG, starts
// a job and polls it -> the result appears in a before/after comparison, downloadable as PNG.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  config: null, methods: new Map(), image: null, reference: null,
  strokes: [], drawing: null, job: null, busy: false,
};

// ------------------------------------------------------------------ messages
function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}
function clearError() { $("error").hidden = true; $("error").textContent = ""; }
function setStatus(text) { $("status").textContent = text; }

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("the server did not answer; is `tinct serve` still running?");
  }
  const text = await response.text();
  let payload = null;
  try { payload = text ? JSON.parse(text) : {}; } catch (err) { payload = null; }
  if (!response.ok) {
    throw new Error((payload && payload.error) || `the server answered ${response.status} ${response.statusText}`);
  }
  return payload;
}

function megabytes(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }

async function upload(file, role) {
  const limit = state.config ? state.config.max_upload_bytes : Infinity;
  if (file.size > limit) {
    throw new Error(`'${file.name}' is ${megabytes(file.size)}; the limit is ${megabytes(limit)} (tinct serve --max-upload-mb)`);
  }
  if (file.size === 0) throw new Error(`'${file.name}' is empty; choose an image file`);
  const query = new URLSearchParams({ role, name: file.name || role });
  return api(`/api/upload?${query}`, { method: "POST", body: file });
}

// ------------------------------------------------------------------ methods
function currentMethod() { return state.methods.get($("method").value); }

function fillMethods(config) {
  const select = $("method");
  select.textContent = "";
  for (const m of config.methods) {
    state.methods.set(m.name, m);
    const option = document.createElement("option");
    option.value = m.name;
    const needs = m.needs.length ? ` (needs ${m.needs.join(" + ")})` : "";
    option.textContent = m.name + needs;
    select.appendChild(option);
  }
  select.value = state.methods.has(config.default) ? config.default : config.methods[0].name;
  select.disabled = false;
  onMethodChange();
}

function onMethodChange() {
  const m = currentMethod();
  if (!m) return;
  $("method-summary").textContent = m.summary + (m.paper && m.paper !== "(none)" ? ` — ${m.paper}` : "");
  $("reference-section").hidden = !m.accepts.includes("reference");
  $("reference-required").textContent = m.needs.includes("reference") ? "(required)" : "(optional)";
  $("scribble-section").hidden = !m.accepts.includes("hints");
  $("hints-required").textContent = m.needs.includes("hints") ? "(required)" : "(optional)";
  $("scribbles").style.pointerEvents = m.accepts.includes("hints") ? "auto" : "none";
  $("scribbles").style.visibility = m.accepts.includes("hints") ? "visible" : "hidden";
  updateButtons();
}

function missingInputs() {
  const m = currentMethod();
  const missing = [];
  if (!state.image) missing.push("a photo");
  if (m && m.needs.includes("reference") && !state.reference) missing.push("a colour reference");
  if (m && m.needs.includes("hints") && state.strokes.length === 0) missing.push("some scribbles");
  return missing;
}

function updateButtons() {
  const missing = missingInputs();
  $("colorize").disabled = state.busy || missing.length > 0;
  $("colorize").title = missing.length ? `needs ${missing.join(", ")}` : "";
  $("undo").disabled = state.strokes.length === 0;
  $("clear").disabled = state.strokes.length === 0;
  const n = state.strokes.length;
  $("stroke-count").textContent = n ? `${n} stroke${n > 1 ? "s" : ""}` : "no strokes";
}

// ------------------------------------------------------------------ photo and reference
async function onPhoto(file) {
  if (!file) return;
  clearError();
  setStatus(`reading ${file.name}…`);
  try {
    const info = await upload(file, "image");
    state.image = info;
    state.strokes = [];
    const preview = `/api/uploads/${info.id}/preview.png`;
    await loadImage($("input-image"), preview);
    const canvas = $("scribbles");
    canvas.width = info.width;
    canvas.height = info.height;
    redraw();
    fitStage($("input-stage"), info);
    $("input-stage").hidden = false;
    $("input-placeholder").hidden = true;
    $("photo-note").textContent = `${info.name}: ${info.width}×${info.height}` + (info.note ? ` — ${info.note}` : "");
    resetResult();
    setStatus("");
  } catch (err) {
    setStatus("");
    showError(err.message);
  }
  updateButtons();
}

async function onReference(file) {
  if (!file) return;
  clearError();
  try {
    const info = await upload(file, "reference");
    state.reference = info;
    await loadImage($("reference-preview"), `/api/uploads/${info.id}/preview.png`);
    $("reference-preview").hidden = false;
    $("reference-note").textContent = `${info.name}: ${info.width}×${info.height}` + (info.note ? ` — ${info.note}` : "");
  } catch (err) {
    state.reference = null;
    $("reference-preview").hidden = true;
    showError(err.message);
  }
  updateButtons();
}

function fitStage(stage, info) {
  // Images fill the panel's width, but a tall one is kept within 80 % of the window's height.
  stage.style.maxWidth = `calc(80vh * ${info.width / info.height})`;
}

function loadImage(img, src) {
  return new Promise((resolve, reject) => {
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the browser could not show the image"));
    img.src = src;
  });
}

// ------------------------------------------------------------------ scribbles
function canvasPoint(event) {
  const canvas = $("scribbles");
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}

function brushSizeInImagePixels() {
  const canvas = $("scribbles");
  const shown = canvas.getBoundingClientRect().width || canvas.width;
  return Math.max(1, Number($("brush-size").value) * canvas.width / shown);
}

function drawStroke(ctx, stroke) {
  ctx.strokeStyle = ctx.fillStyle = stroke.color;
  ctx.lineWidth = stroke.size;
  ctx.lineCap = ctx.lineJoin = "round";
  const [x0, y0] = stroke.points[0];
  if (stroke.points.length === 1) {
    ctx.beginPath();
    ctx.arc(x0, y0, stroke.size / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  for (const [x, y] of stroke.points.slice(1)) ctx.lineTo(x, y);
  ctx.stroke();
}

function redraw() {
  const canvas = $("scribbles");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  for (const stroke of state.strokes) drawStroke(ctx, stroke);
}

function setupScribbles() {
  const canvas = $("scribbles");
  canvas.addEventListener("pointerdown", (event) => {
    if (!state.image || event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    state.drawing = { color: $("brush-color").value, size: brushSizeInImagePixels(), points: [canvasPoint(event)] };
    drawStroke(canvas.getContext("2d"), state.drawing);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!state.drawing) return;
    // Only the new segment is painted (a full redraw per move is slow on a large photo).
    const points = state.drawing.points;
    points.push(canvasPoint(event));
    drawStroke(canvas.getContext("2d"), { ...state.drawing, points: points.slice(-2) });
  });
  const finish = () => {
    if (!state.drawing) return;
    state.strokes.push(state.drawing);
    state.drawing = null;
    updateButtons();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  $("undo").addEventListener("click", () => { state.strokes.pop(); redraw(); updateButtons(); });
  $("clear").addEventListener("click", () => { state.strokes = []; redraw(); updateButtons(); });
  $("brush-size").addEventListener("input", () => { $("brush-size-value").textContent = $("brush-size").value; });
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "z" && state.strokes.length) {
      event.preventDefault();
      $("undo").click();
    }
  });
}

function scribblesBlob() {
  // Strokes are painted on a transparent canvas of the image's own size, so its PNG is an RGBA
  // hints image: transparent = no hint (tinct.hints.hints_from_image).
  return new Promise((resolve) => $("scribbles").toBlob(resolve, "image/png"));
}

// ------------------------------------------------------------------ colorize and progress
async function colorize() {
  const m = currentMethod();
  clearError();
  state.busy = true;
  updateButtons();
  showProgress(0, false);
  try {
    const request = { image: state.image.id, method: m.name };
    if (m.accepts.includes("reference") && state.reference) request.reference = state.reference.id;
    if (m.accepts.includes("hints") && state.strokes.length) {
      setStatus("sending the scribbles…");
      const blob = await scribblesBlob();
      const hints = await upload(new File([blob], "scribbles.png", { type: "image/png" }), "hints");
      request.hints = hints.id;
    }
    const { job } = await api("/api/colorize", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
    state.job = job;
    const status = await pollJob(job);
    if (status.status === "error") throw new Error(status.error || "the colorization failed");
    await showResult(status);
    setStatus(`done in ${status.elapsed_s.toFixed(1)} s with ${status.method}`);
  } catch (err) {
    setStatus("");
    showError(err.message);
  } finally {
    state.busy = false;
    $("progress").hidden = true;
    updateButtons();
  }
}

function showProgress(fraction, indeterminate) {
  const bar = $("progress");
  bar.hidden = false;
  if (indeterminate) bar.removeAttribute("value"); else bar.value = fraction;
}

async function pollJob(jobId) {
  for (;;) {
    const status = await api(`/api/jobs/${jobId}`);
    if (status.status === "done" || status.status === "error") return status;
    showProgress(status.fraction, status.indeterminate);
    const elapsed = status.elapsed_s ? ` (${status.elapsed_s.toFixed(1)} s)` : "";
    setStatus(`${status.message}${elapsed}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function showResult(status) {
  await loadImage($("before-image"), $("input-image").src);
  await loadImage($("result-image"), `${status.result_url}?job=${status.id}`);
  fitStage($("compare"), state.image);
  $("compare").hidden = false;
  $("result-tools").hidden = false;
  $("result-placeholder").hidden = true;
  const stem = (state.image.name || "image").replace(/\.[^.]*$/, "");
  const link = $("download");
  link.href = `${status.result_url}?download=1`;
  link.download = `${stem}-${status.method}.png`;
  link.dataset.job = status.id;
  setCompare(Number($("compare-slider").value));
}

function resetResult() {
  $("compare").hidden = true;
  $("result-tools").hidden = true;
  $("result-placeholder").hidden = false;
  $("result-image").removeAttribute("src");
}

function setCompare(percent) {
  // Left of the divider: before (the gray input); right: after (the result).
  $("result-image").style.clipPath = `inset(0 0 0 ${percent}%)`;
  $("divider").style.left = `${percent}%`;
}

// ------------------------------------------------------------------ wiring
function setupDrop() {
  const panel = $("input-panel");
  panel.addEventListener("dragover", (event) => { event.preventDefault(); panel.classList.add("dragging"); });
  panel.addEventListener("dragleave", () => panel.classList.remove("dragging"));
  panel.addEventListener("drop", (event) => {
    event.preventDefault();
    panel.classList.remove("dragging");
    if (event.dataTransfer.files.length) onPhoto(event.dataTransfer.files[0]);
  });
}

async function init() {
  $("photo").addEventListener("change", (event) => onPhoto(event.target.files[0]));
  $("reference").addEventListener("change", (event) => onReference(event.target.files[0]));
  $("method").addEventListener("change", onMethodChange);
  $("colorize").addEventListener("click", colorize);
  $("compare-slider").addEventListener("input", (event) => setCompare(Number(event.target.value)));
  setupScribbles();
  setupDrop();
  try {
    state.config = await api("/api/methods");
    fillMethods(state.config);
    document.body.dataset.ready = "1";
  } catch (err) {
    showError(`cannot list the methods: ${err.message}`);
  }
}

init();
