// End-to-end check of `tinct serve` in a real browser: Debian's chromium driven by playwright-core
// (no browser download). Usage: node e2e.mjs <url> <artifact-dir> [method]
//
// It loads the page, uploads a text file (expects the error message in the page), uploads a
// synthetic gray PNG made in the page, picks <method> (default levin), uploads a green reference
// if the method shows the reference tool, draws a red stroke with the mouse if it shows the
// scribble tools (and a blue one that it undoes), clicks Colorize, waits for the result, reads
// the result's pixels where the strokes were, downloads the PNG and saves a screenshot.
// Prints one JSON line; exits 1 if a step failed.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, artifactDir = "test-artifacts", method = "levin"] = process.argv.slice(2);
if (!url) {
  console.error("usage: node e2e.mjs <url> <artifact-dir> [method]");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const WIDTH = 160, HEIGHT = 120;
// The stroke, in fractions of the image: a horizontal line at mid height from 20 % to 50 %.
const STROKE = { x0: 0.2, x1: 0.5, y: 0.5 };
const UNDONE = { x0: 0.6, x1: 0.9, y: 0.85 };
mkdirSync(artifactDir, { recursive: true });

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const report = { method, url };
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("pageerror", (err) => consoleErrors.push(String(err)));
  page.setDefaultTimeout(20000);
  await page.goto(url);
  await page.waitForSelector("body[data-ready='1']");
  report.methods = await page.$$eval("#method option", (opts) => opts.map((o) => o.value));

  // 1. A bad upload shows a clear message and the page goes on working.
  await page.setInputFiles("#photo", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not a picture\n") });
  await page.waitForSelector("#error:not([hidden])");
  report.bad_upload_message = await page.textContent("#error");

  // 2. Upload a synthetic gray photo, drawn in the page: a soft horizontal gradient with a darker disc.
  const dataUrl = await page.evaluate(([w, h]) => {
    const c = document.createElement("canvas");
    c.width = w; c.height = h;
    const ctx = c.getContext("2d");
    const g = ctx.createLinearGradient(0, 0, w, 0);
    g.addColorStop(0, "#707070"); g.addColorStop(1, "#a0a0a0");
    ctx.fillStyle = g; ctx.fillRect(0, 0, w, h);
    ctx.fillStyle = "#505050"; ctx.beginPath(); ctx.arc(w * 0.8, h * 0.3, h * 0.12, 0, 2 * Math.PI); ctx.fill();
    return c.toDataURL("image/png");
  }, [WIDTH, HEIGHT]);
  const png = Buffer.from(dataUrl.split(",")[1], "base64");
  await page.setInputFiles("#photo", { name: "synthetic.png", mimeType: "image/png", buffer: png });
  await page.waitForSelector("#input-stage:not([hidden])");
  report.error_after_good_upload = await page.isVisible("#error");
  report.download_visible_before_result = await page.isVisible("#download");

  // 3. Pick the method; the page shows the tools it accepts.
  await page.selectOption("#method", method);
  report.shows_reference = await page.isVisible("#reference-section");
  report.shows_scribbles = await page.isVisible("#scribble-section");
  if (report.shows_reference) {
    // A green reference photo, made in the page like the input.
    const refUrl = await page.evaluate(() => {
      const c = document.createElement("canvas");
      c.width = 64; c.height = 48;
      const ctx = c.getContext("2d");
      ctx.fillStyle = "#20c040"; ctx.fillRect(0, 0, 64, 48);
      return c.toDataURL("image/png");
    });
    await page.setInputFiles("#reference", { name: "green.png", mimeType: "image/png",
      buffer: Buffer.from(refUrl.split(",")[1], "base64") });
    await page.waitForSelector("#reference-preview:not([hidden])");
  }

  // 4. Draw a red stroke with the mouse.
  if (report.shows_scribbles) await drawStroke(page, report);

  // 5. Colorize and wait for the result (or an error in the page).
  const started = Date.now();
  await page.click("#colorize");
  await page.waitForSelector("#compare:not([hidden]), #error:not([hidden])", { timeout: 60000 });
  report.colorize_seconds = (Date.now() - started) / 1000;
  report.error = (await page.isVisible("#error")) ? await page.textContent("#error") : null;
  report.status = await page.textContent("#status");
  if (report.error) throw new Error(`colorize failed in the page: ${report.error}`);

  // 6. Read the result where the stroke was (and far from it) through a canvas.
  report.pixels = await page.evaluate(([s, u]) => {
    const img = document.getElementById("result-image");
    const c = document.createElement("canvas");
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const at = (fx, fy) => Array.from(ctx.getImageData(Math.round(fx * c.width), Math.round(fy * c.height), 1, 1).data.slice(0, 3));
    return { size: [c.width, c.height], on_stroke: at((s.x0 + s.x1) / 2, s.y), off_stroke: at(0.9, 0.2),
      undone_stroke: at((u.x0 + u.x1) / 2, u.y) };
  }, [STROKE, UNDONE]);
  report.stroke = STROKE;

  // 7. Download the PNG and take a screenshot.
  await page.$eval("#compare-slider", (el) => { el.value = "35"; el.dispatchEvent(new Event("input")); });
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  report.download_name = download.suggestedFilename();
  report.download = join(artifactDir, "web_e2e_result.png");
  await download.saveAs(report.download);
  report.screenshot = join(artifactDir, "web_e2e.png");
  await page.screenshot({ path: report.screenshot, fullPage: true });
  report.page_errors = consoleErrors;
} catch (err) {
  failed = true;
  report.failure = String(err && err.message || err);
  const pages = browser.contexts().flatMap((c) => c.pages());
  if (pages.length) await pages[0].screenshot({ path: join(artifactDir, "web_e2e_failure.png") }).catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));

async function drawStroke(page, report) {
  await page.fill("#brush-color", "#ff0000");
  await page.$eval("#brush-size", (el) => { el.value = "24"; el.dispatchEvent(new Event("input")); });
  const box = await page.locator("#scribbles").boundingBox();
  const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
  const line = async (x0, x1, y) => {
    await page.mouse.move(...at(x0, y));
    await page.mouse.down();
    await page.mouse.move(...at(x1, y), { steps: 12 });
    await page.mouse.up();
  };
  await line(STROKE.x0, STROKE.x1, STROKE.y);
  // A second, blue stroke that is undone: it must not reach the method.
  await page.fill("#brush-color", "#0000ff");
  await line(UNDONE.x0, UNDONE.x1, UNDONE.y);
  report.stroke_count_before_undo = await page.textContent("#stroke-count");
  await page.click("#undo");
  report.stroke_count = await page.textContent("#stroke-count");
}
process.exit(failed ? 1 : 0);
