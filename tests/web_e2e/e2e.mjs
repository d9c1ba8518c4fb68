// End-to-end check of `tinct serve` in a real browser: Debian's chromium driven by playwright-core
// (no browser download). Usage: node e2e.mjs <url> <artifact-dir> <scenario> [method]
//
// Scenarios (each prints one JSON report line; exit 1 if a step failed):
//   scribble  a text file is refused; a synthetic gray photo is uploaded; <method> is chosen from the
//             "scribbles" group; a red stroke (and an undone blue one) is drawn at fit zoom, a
//             palette-coloured stroke while zoomed in and panned, an eyedropper-picked stroke; the
//             result's pixels are read; then a too-large and a corrupt upload are refused and the
//             page must still show the previous photo, its name, its strokes and its result.
//   reference a method of the "reference" group gets a green reference photo.
//   gallery   an example from the gallery, the strength slider at 0 (a gray result), two methods
//             side by side, then three photos at once and their zip.
//   tour      the cat example scribbled with <method> (levin), zoomed in: the screenshot in docs/web.md.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, artifactDir = "test-artifacts", scenario = "scribble", method = "levin"] = process.argv.slice(2);
if (!url) {
  console.error("usage: node e2e.mjs <url> <artifact-dir> <scenario> [method]");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const WIDTH = 160, HEIGHT = 120;
// Strokes, in fractions of the image.
const STROKE = { x0: 0.2, x1: 0.5, y: 0.5 };
const UNDONE = { x0: 0.6, x1: 0.9, y: 0.85 };
const ZOOMED = { x0: 0.55, x1: 0.68, y: 0.4 };
const PICKED = { x0: 0.08, x1: 0.16, y: 0.15 };
// Test photos, painted in the page: a gray gradient with a darker disc, and a flat green.
const SYNTHETIC = `const g = ctx.createLinearGradient(0, 0, w, 0);
  g.addColorStop(0, "#707070"); g.addColorStop(1, "#a0a0a0"); ctx.fillStyle = g; ctx.fillRect(0, 0, w, h);
  ctx.fillStyle = "#505050"; ctx.beginPath(); ctx.arc(w * 0.8, h * 0.3, h * 0.12, 0, 2 * Math.PI); ctx.fill();`;
const GREEN = `ctx.fillStyle = "#20c040"; ctx.fillRect(0, 0, w, h);`;
mkdirSync(artifactDir, { recursive: true });

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const report = { scenario, method, url };
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1500, height: 950 }, acceptDownloads: true });
  const page = await context.newPage();
  report.page_errors = [];
  page.on("pageerror", (err) => report.page_errors.push(String(err)));
  page.setDefaultTimeout(30000);
  await page.goto(url);
  await page.waitForSelector("body[data-ready='1']");
  report.groups = await page.$$eval("#groups .group", (els) => els.map((e) => e.dataset.group));
  report.examples = await page.$$eval("#gallery .example", (els) => els.map((e) => e.dataset.example));
  const shot = async (name) => page.screenshot({ path: join(artifactDir, `${name}.png`), fullPage: true });
  if (scenario === "scribble") await scribbleScenario(page, shot);
  else if (scenario === "reference") await referenceScenario(page, shot);
  else if (scenario === "tour") await tourScenario(page, shot);
  else await galleryScenario(page, shot);
} catch (err) {
  failed = true;
  report.failure = String((err && err.stack) || err);
  const pages = browser.contexts().flatMap((c) => c.pages());
  if (pages.length) await pages[0].screenshot({ path: join(artifactDir, "failure.png") }).catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
process.exit(failed ? 1 : 0);

// ------------------------------------------------------------------ helpers
function pngOf(page, [w, h], paint) {
  return page.evaluate(([w, h, paint]) => {
    const c = document.createElement("canvas");
    c.width = w; c.height = h;
    const ctx = c.getContext("2d");
    new Function("ctx", "w", "h", paint)(ctx, w, h);
    return c.toDataURL("image/png");
  }, [w, h, paint]).then((u) => Buffer.from(u.split(",")[1], "base64"));
}


async function uploadSynthetic(page) {
  await page.setInputFiles("#photo", { name: "synthetic.png", mimeType: "image/png", buffer: await pngOf(page, [WIDTH, HEIGHT], SYNTHETIC) });
  await page.waitForSelector("#viewport:not([hidden])");
  await page.waitForFunction(() => document.getElementById("photo-note").textContent.startsWith("synthetic.png"));
}

async function chooseMethod(page, group, name) {
  await page.click(`#groups .group[data-group='${group}']`);
  await page.selectOption("#method", name);
}

async function line(page, s, color) {
  // Screen points from the canvas's box, which includes the zoom and pan (the page may have
  // scrolled to an eyedropper photo below: bring the photo back into the window first).
  await page.locator("#viewport").scrollIntoViewIfNeeded();
  const box = await page.locator("#scribbles").boundingBox();
  const view = await page.locator("#viewport").boundingBox();
  const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
  for (const [x, y] of [at(s.x0, s.y), at(s.x1, s.y)]) {
    if (x < view.x || x > view.x + view.width || y < view.y || y > view.y + view.height) {
      throw new Error(`stroke point ${x},${y} is outside the visible viewport`);
    }
  }
  if (color) await page.fill("#brush-color", color);
  await page.mouse.move(...at(s.x0, s.y));
  await page.mouse.down();
  await page.mouse.move(...at(s.x1, s.y), { steps: 12 });
  await page.mouse.up();
}

async function colorizeAndWait(page, selector = "#compare:not([hidden])") {
  const started = Date.now();
  await page.click("#colorize");
  await page.waitForSelector(`${selector}, #error:not([hidden])`, { timeout: 90000 });
  report.colorize_seconds = (Date.now() - started) / 1000;
  const error = (await page.isVisible("#error")) ? await page.textContent("#error") : null;
  if (error) throw new Error(`colorize failed in the page: ${error}`);
}

function readPixels(page, selector, points) {
  return page.evaluate(([selector, points]) => {
    const img = document.querySelector(selector);
    const c = document.createElement("canvas");
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const out = { size: [c.width, c.height] };
    for (const [name, [fx, fy]] of Object.entries(points)) {
      out[name] = Array.from(ctx.getImageData(Math.round(fx * c.width), Math.round(fy * c.height), 1, 1).data.slice(0, 3));
    }
    const all = ctx.getImageData(0, 0, c.width, c.height).data;
    let spread = 0;
    for (let i = 0; i < all.length; i += 4) spread = Math.max(spread, Math.max(all[i], all[i + 1], all[i + 2]) - Math.min(all[i], all[i + 1], all[i + 2]));
    out.max_channel_spread = spread;
    return out;
  }, [selector, points]);
}

async function pageState(page) {
  return page.evaluate(() => ({
    note: document.getElementById("photo-note").textContent,
    chooser_files: document.getElementById("photo").files.length,
    input_width: document.getElementById("input-image").naturalWidth,
    result_shown: !document.getElementById("compare").hidden,
    strokes: document.getElementById("stroke-count").textContent,
    error: document.getElementById("error").hidden ? null : document.getElementById("error").textContent,
  }));
}

// ------------------------------------------------------------------ scenarios
async function scribbleScenario(page, shot) {
  await page.setInputFiles("#photo", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not a picture\n") });
  await page.waitForSelector("#error:not([hidden])");
  report.bad_upload = await pageState(page);
  await uploadSynthetic(page);
  report.error_after_good_upload = await page.isVisible("#error");
  report.download_visible_before_result = await page.isVisible("#download");
  await chooseMethod(page, "scribbles", method);
  report.shows_scribbles = await page.isVisible("#scribble-section");
  report.shows_reference = await page.isVisible("#reference-section");
  await page.$eval("#brush-size", (el) => { el.value = "24"; el.dispatchEvent(new Event("input")); });
  await line(page, STROKE, "#ff0000");
  await line(page, UNDONE, "#0000ff");
  report.stroke_count_before_undo = await page.textContent("#stroke-count");
  await page.click("#undo");
  // Zoom in twice and pan a little with the right mouse button, then paint with a palette colour.
  await page.click("#zoom-in");
  await page.click("#zoom-in");
  const view = await page.locator("#viewport").boundingBox();
  await page.mouse.move(view.x + view.width / 2, view.y + view.height / 2);
  await page.mouse.down({ button: "right" });
  await page.mouse.move(view.x + view.width / 2 + 30, view.y + view.height / 2 + 20, { steps: 5 });
  await page.mouse.up({ button: "right" });
  report.zoom = await page.textContent("#zoom-value");
  await page.click("#palette .swatch[title='grass']");
  report.palette_color = await page.inputValue("#brush-color");
  await page.$eval("#brush-size", (el) => { el.value = "12"; el.dispatchEvent(new Event("input")); });
  await line(page, ZOOMED);
  await shot("web_scribble_zoom");
  await page.click("#zoom-fit");
  // The eyedropper: pick the green of a colour photo, then paint with it.
  await page.setInputFiles("#pick-photo", { name: "green.png", mimeType: "image/png", buffer: await pngOf(page, [64, 48], GREEN) });
  await page.waitForSelector("#pick-preview:not([hidden])");
  await page.click("#eyedropper");
  await page.click("#pick-preview");
  report.picked_color = await page.inputValue("#brush-color");
  await page.$eval("#brush-size", (el) => { el.value = "24"; el.dispatchEvent(new Event("input")); });
  await line(page, PICKED);
  report.stroke_count = await page.textContent("#stroke-count");
  await colorizeAndWait(page);
  const mid = (s) => [(s.x0 + s.x1) / 2, s.y];
  report.pixels = await readPixels(page, "#result-image", { on_stroke: mid(STROKE), zoomed_stroke: mid(ZOOMED),
    picked_stroke: mid(PICKED), off_stroke: [0.9, 0.2], undone_stroke: mid(UNDONE) });
  await page.$eval("#compare-slider", (el) => { el.value = "35"; el.dispatchEvent(new Event("input")); });
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  report.download_name = download.suggestedFilename();
  report.download = join(artifactDir, "result.png");
  await download.saveAs(report.download);
  await shot("web_scribble_result");
  // Refused uploads leave the page as it was: the previous photo, its name, strokes and result.
  const huge = Buffer.alloc(26 * 1024 * 1024, 1);
  await page.setInputFiles("#photo", { name: "huge.png", mimeType: "image/png", buffer: huge });
  await page.waitForSelector("#error:not([hidden])");
  report.after_too_large = await pageState(page);
  await shot("web_refused_upload");
  await page.setInputFiles("#photo", { name: "fake.png", mimeType: "image/png", buffer: Buffer.from("GIF89a not really") });
  await page.waitForFunction(() => document.getElementById("error").textContent.includes("fake.png"));
  report.after_corrupt = await pageState(page);
}

async function referenceScenario(page, shot) {
  await uploadSynthetic(page);
  await chooseMethod(page, "reference", method);
  report.shows_reference = await page.isVisible("#reference-section");
  report.shows_scribbles = await page.isVisible("#scribble-section");
  await page.setInputFiles("#reference", { name: "green.png", mimeType: "image/png", buffer: await pngOf(page, [64, 48], GREEN) });
  await page.waitForSelector("#reference-preview:not([hidden])");
  await colorizeAndWait(page);
  report.pixels = await readPixels(page, "#result-image", { centre: [0.5, 0.5] });
  await shot("web_reference");
}

async function galleryScenario(page, shot) {
  await shot("web_start");
  await page.click("#gallery .example[data-example='astronaut']");
  await page.waitForFunction(() => document.getElementById("photo-note").textContent.startsWith("astronaut.png"));
  report.note = await page.textContent("#photo-note");
  report.selected_group = await page.$eval("#groups .group.selected", (e) => e.dataset.group);
  await page.selectOption("#method", method);
  report.shows_strength = await page.isVisible("#strength-section");
  await page.$eval("#strength", (el) => { el.value = "0"; el.dispatchEvent(new Event("input")); });
  await colorizeAndWait(page);
  report.gray_result = await readPixels(page, "#result-image", {});
  report.status_strength_0 = await page.textContent("#status");
  await page.$eval("#strength", (el) => { el.value = "1.5"; el.dispatchEvent(new Event("input")); });
  await page.check("#compare-on");
  const second = (await page.$$eval("#method-b option", (os) => os.map((o) => o.value)));
  report.second = second.includes("deepcolor") ? "deepcolor" : second[0];
  await page.selectOption("#method-b", report.second);
  await colorizeAndWait(page, "#side-by-side:not([hidden])");
  report.cards = await page.$$eval("#side-by-side .result-card", (els) => els.map((e) => [e.dataset.method, e.querySelector("figcaption").textContent]));
  report.colour_result = await readPixels(page, "#side-by-side .result-card img", {});
  await shot("web_compare");
  await page.uncheck("#compare-on");
  const files = [];
  for (const k of [1, 2, 3]) files.push({ name: `photo${k}.png`, mimeType: "image/png", buffer: await pngOf(page, [WIDTH, HEIGHT], SYNTHETIC) });
  await page.setInputFiles("#photo", files);
  await page.waitForSelector("#batch-zip:not([hidden])", { timeout: 90000 });
  report.batch_rows = await page.$$eval("#batch-table tbody tr", (rows) => rows.map((r) => r.className));
  const [zip] = await Promise.all([page.waitForEvent("download"), page.click("#batch-zip")]);
  report.zip = join(artifactDir, "results.zip");
  await zip.saveAs(report.zip);
  await shot("web_batch");
  // A photo 1.3x larger than spynco's memory estimate allows under the server's budget (when the
  // server's pixel limit leaves room for one): the page says so before anything is sent.
  const limits = await page.evaluate(async () => {
    const config = await (await fetch("/api/methods")).json();
    const m = config.methods.find((x) => x.name === "spynco");
    return m ? [m.max_pixels, config.max_pixels] : null;
  });
  if (limits && limits[0] * 1.3 <= limits[1]) {
    const bigMethod = "spynco";
    const w = Math.ceil(Math.sqrt(limits[0] * 1.3 * 1.5)), h = Math.ceil(w / 1.5);
    report.big_size = [w, h];
    await page.setInputFiles("#photo", { name: "big.png", mimeType: "image/png", buffer: await pngOf(page, [w, h], SYNTHETIC) });
    await page.waitForFunction(() => document.getElementById("photo-note").textContent.startsWith("big.png"));
    await page.selectOption("#method", bigMethod);
    report.size_warning = (await page.isVisible("#size-warning")) ? await page.textContent("#size-warning") : null;
    report.colorize_disabled = await page.isDisabled("#colorize");
  }
}

async function tourScenario(page, shot) {
  // Each stroke takes its colour from the example's colour original with the eyedropper.
  await page.click("#gallery .example[data-example='chelsea']");
  await page.waitForFunction(() => document.getElementById("photo-note").textContent.startsWith("chelsea.png"));
  await page.waitForSelector("#pick-preview:not([hidden])");
  await page.selectOption("#method", method);
  await page.$eval("#brush-size", (el) => { el.value = "10"; el.dispatchEvent(new Event("input")); });
  const strokes = [[0.25, 0.42, 0.62], [0.58, 0.75, 0.62], [0.42, 0.6, 0.15], [0.45, 0.55, 0.9],
    [0.02, 0.1, 0.1], [0.9, 0.98, 0.1], [0.02, 0.08, 0.8], [0.92, 0.98, 0.75], [0.34, 0.37, 0.43],
    [0.63, 0.66, 0.43], [0.47, 0.52, 0.68], [0.15, 0.25, 0.3], [0.75, 0.85, 0.3]];
  const pick = await page.locator("#pick-preview").boundingBox();
  for (const [x0, x1, y] of strokes) {
    await page.click("#eyedropper");
    await page.click("#pick-preview", { position: { x: ((x0 + x1) / 2) * pick.width, y: y * pick.height } });
    await line(page, { x0, x1, y });
  }
  report.stroke_count = await page.textContent("#stroke-count");
  await colorizeAndWait(page);
  await page.click("#zoom-in");
  await shot("web_tour");
}
