// tinct serve: the scribble canvas (a transparent canvas of the image's own size over the gray photo),
// its zoom and pan, the palette and the eyedropper. Strokes are kept as data (colour, size in image
// pixels, points in image pixels) so Undo redraws exactly; the canvas's PNG is the RGBA hints image.
"use strict";

import { $ } from "./api.js";

const PALETTE = [
  ["sky", "#6fa8dc"], ["sea", "#2f6f9f"], ["grass", "#5a9e3a"], ["leaves", "#2e6b2e"],
  ["light skin", "#e8b796"], ["dark skin", "#8d5a3b"], ["wood", "#8b5a2b"], ["brick", "#a63c2c"],
  ["red", "#d02020"], ["yellow", "#f2c12e"], ["orange", "#e8762c"], ["purple", "#7a4fa0"],
];
const ZOOM_STEP = 1.5, MAX_ZOOM = 16;

export const scribbles = { strokes: [], drawing: null, enabled: false, onChange: () => {} };
const view = { zoom: 1, x: 0, y: 0, pan: null, space: false };

// ------------------------------------------------------------------ drawing
function canvasPoint(event) {
  // The bounding box includes the zoom transform, so this maps screen -> image pixels at any zoom.
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
  ctx.beginPath();
  if (stroke.points.length === 1) {
    ctx.arc(x0, y0, stroke.size / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.moveTo(x0, y0);
  for (const [x, y] of stroke.points.slice(1)) ctx.lineTo(x, y);
  ctx.stroke();
}

export function redraw() {
  const canvas = $("scribbles");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  for (const stroke of scribbles.strokes) drawStroke(ctx, stroke);
}

// A new photo: an empty canvas of its size, the view fitted.
export function resetCanvas(width, height) {
  const canvas = $("scribbles");
  canvas.width = width;
  canvas.height = height;
  scribbles.strokes = [];
  redraw();
  $("viewport").style.aspectRatio = `${width} / ${height}`;
  $("viewport").style.maxWidth = `calc(80vh * ${width / height})`;
  setView(1, 0, 0);
}

export function scribblesBlob() {
  return new Promise((resolve) => $("scribbles").toBlob(resolve, "image/png"));
}

// ------------------------------------------------------------------ zoom and pan
function setView(zoom, x, y) {
  const box = $("viewport").getBoundingClientRect();
  view.zoom = Math.min(MAX_ZOOM, Math.max(1, zoom));
  // Keep the photo covering the viewport: no empty margin when zoomed in.
  view.x = Math.min(0, Math.max(box.width * (1 - view.zoom), x));
  view.y = Math.min(0, Math.max(box.height * (1 - view.zoom), y));
  $("input-stage").style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.zoom})`;
  $("zoom-value").textContent = `${Math.round(view.zoom * 100)} %`;
}

// Zoom by `factor` keeping the point (cx, cy) of the viewport (default: its centre) in place.
export function zoomBy(factor, cx, cy) {
  const box = $("viewport").getBoundingClientRect();
  cx = cx ?? box.width / 2;
  cy = cy ?? box.height / 2;
  const zoom = Math.min(MAX_ZOOM, Math.max(1, view.zoom * factor));
  const k = zoom / view.zoom;
  setView(zoom, cx - (cx - view.x) * k, cy - (cy - view.y) * k);
}

function setupZoom() {
  const viewport = $("viewport");
  viewport.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = viewport.getBoundingClientRect();
    zoomBy(event.deltaY < 0 ? 1.25 : 0.8, event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });
  viewport.addEventListener("contextmenu", (event) => event.preventDefault());
  viewport.addEventListener("pointerdown", (event) => {
    if (!(event.button === 1 || event.button === 2 || view.space || !scribbles.enabled)) return;
    event.preventDefault();
    viewport.setPointerCapture(event.pointerId);
    view.pan = { x: event.clientX - view.x, y: event.clientY - view.y };
  });
  viewport.addEventListener("pointermove", (event) => {
    if (view.pan) setView(view.zoom, event.clientX - view.pan.x, event.clientY - view.pan.y);
  });
  const stop = () => { view.pan = null; };
  viewport.addEventListener("pointerup", stop);
  viewport.addEventListener("pointercancel", stop);
  $("zoom-in").addEventListener("click", () => zoomBy(ZOOM_STEP));
  $("zoom-out").addEventListener("click", () => zoomBy(1 / ZOOM_STEP));
  $("zoom-fit").addEventListener("click", () => setView(1, 0, 0));
  const typing = (event) => ["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName);
  document.addEventListener("keydown", (event) => { if (event.code === "Space" && !typing(event)) { view.space = true; event.preventDefault(); } });
  document.addEventListener("keyup", (event) => { if (event.code === "Space") view.space = false; });
}

// ------------------------------------------------------------------ palette and eyedropper
function setColor(hex) {
  $("brush-color").value = hex;
  for (const swatch of $("palette").children) swatch.classList.toggle("selected", swatch.dataset.color === hex);
}

function setupPalette() {
  for (const [name, hex] of PALETTE) {
    const swatch = document.createElement("button");
    swatch.type = "button";
    swatch.className = "swatch";
    swatch.title = name;
    swatch.dataset.color = hex;
    swatch.style.background = hex;
    swatch.addEventListener("click", () => setColor(hex));
    $("palette").appendChild(swatch);
  }
  $("brush-color").addEventListener("input", () => setColor($("brush-color").value));
}

function pixelHex(img, event) {
  const c = document.createElement("canvas");
  c.width = img.naturalWidth;
  c.height = img.naturalHeight;
  const ctx = c.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const box = img.getBoundingClientRect();
  const x = Math.min(c.width - 1, Math.floor((event.clientX - box.left) * c.width / box.width));
  const y = Math.min(c.height - 1, Math.floor((event.clientY - box.top) * c.height / box.height));
  const [r, g, b] = ctx.getImageData(x, y, 1, 1).data;
  return "#" + [r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("");
}

// The eyedropper: "Pick from photo", then a click on a colour photo (the reference, the example's
// colour original or a photo chosen to pick from; never sent to the server) sets the brush colour.
export function setPickSource(src) {
  const img = $("pick-preview");
  if (!src) { img.hidden = true; img.removeAttribute("src"); return; }
  img.src = src;
  img.hidden = false;
}

function setupEyedropper() {
  $("eyedropper").addEventListener("click", () => {
    const on = !document.body.classList.contains("picking");
    document.body.classList.toggle("picking", on);
    $("eyedropper").classList.toggle("active", on);
  });
  for (const img of document.querySelectorAll("img.pickable")) {
    img.addEventListener("click", (event) => {
      if (!document.body.classList.contains("picking") || !img.naturalWidth) return;
      setColor(pixelHex(img, event));
      document.body.classList.remove("picking");
      $("eyedropper").classList.remove("active");
    });
  }
  $("pick-photo").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) setPickSource(URL.createObjectURL(file));
  });
}

// ------------------------------------------------------------------ wiring
export function setupScribbles(onChange) {
  scribbles.onChange = onChange;
  const canvas = $("scribbles");
  canvas.addEventListener("pointerdown", (event) => {
    if (!scribbles.enabled || event.button !== 0 || view.space) return;
    event.stopPropagation();
    canvas.setPointerCapture(event.pointerId);
    scribbles.drawing = { color: $("brush-color").value, size: brushSizeInImagePixels(), points: [canvasPoint(event)] };
    drawStroke(canvas.getContext("2d"), scribbles.drawing);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!scribbles.drawing) return;
    const points = scribbles.drawing.points;  // only the new segment is painted: fast on large photos
    points.push(canvasPoint(event));
    drawStroke(canvas.getContext("2d"), { ...scribbles.drawing, points: points.slice(-2) });
  });
  const finish = () => {
    if (!scribbles.drawing) return;
    scribbles.strokes.push(scribbles.drawing);
    scribbles.drawing = null;
    scribbles.onChange();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  $("undo").addEventListener("click", () => { scribbles.strokes.pop(); redraw(); scribbles.onChange(); });
  $("clear").addEventListener("click", () => { scribbles.strokes = []; redraw(); scribbles.onChange(); });
  $("brush-size").addEventListener("input", () => { $("brush-size-value").textContent = $("brush-size").value; });
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "z" && scribbles.strokes.length) {
      event.preventDefault();
      $("undo").click();
    }
  });
  setupZoom();
  setupPalette();
  setupEyedropper();
}
