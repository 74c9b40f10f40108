// report.js URL SCREENSHOT — loads a `sockit bench --html` page in headless
// Chromium (playwright-core, /usr/bin/chromium or $CHROMIUM), waits until its
// script has drawn the plots (body[data-ready="1"]), saves a full-page
// screenshot and prints one JSON line: every request the page made, script
// errors, the summary text, and for each <svg> its data-points and the
// number of points of its data polyline. Exits 1 on any error.
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [url, shot] = process.argv.slice(2);
const scale = Number(process.env.SOCKIT_TIME_SCALE || 1);

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sockit-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 30000 * scale,
    viewport: { width: 1000, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let rc = 0;
  try {
    const page = context.pages()[0] || await context.newPage();
    const requests = [], errors = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(url, { timeout: 15000 * scale });
    await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 * scale });
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
    const plots = await page.$$eval('svg', (svgs) => svgs.map((s) => {
      const line = s.querySelector('polyline.data');
      const box = s.viewBox.baseVal;
      const pts = line ? line.getAttribute('points').trim().split(/\s+/).map((p) => p.split(',').map(Number)) : [];
      return { id: s.id, points: Number(s.dataset.points || 0), drawn: pts.length,
               inside: pts.every(([x, y]) => x >= 0 && x <= box.width && y >= 0 && y <= box.height) };
    }));
    const summary = await page.textContent('#summary');
    const errorRows = await page.$$eval('#errors tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
    process.stdout.write(JSON.stringify({ requests, errors, plots, summary, errorRows,
                                          title: await page.title() }) + '\n');
  } catch (e) {
    process.stderr.write('report.js: ' + (e && e.stack || e) + '\n');
    process.stdout.write(JSON.stringify({ error: String(e && e.message || e) }) + '\n');
    rc = 1;
  }
  await context.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(rc);
}
main();
