// browser.js URL SCREENSHOT — drives headless Chromium (playwright-core,
// /usr/bin/chromium or $CHROMIUM) on sockit's chat page; $CHROMIUM_EXTRA_ARGS
// (space-separated) are added to Chromium's command line. Line protocol with
// the Python test on stdin/stdout (one JSON object a line):
//   node prints {ready:true, state}             once the page shows "open"
//   test sends  {op:"send", text}               type text into #msg, click Send
//   test sends  {op:"wait", text}               wait until a #log item equals text
//   test sends  {op:"shot"}                     screenshot to SCREENSHOT
//   test sends  {op:"ext"}                      the page WebSocket's agreed extensions
//   test sends  {op:"quit"}
// and node answers each op with {op, ok, ...}. Exits 1 on any error.
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const [url, shot] = process.argv.slice(2);
const scale = Number(process.env.SOCKIT_TIME_SCALE || 1);
const T = (ms) => ms * scale;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sockit-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: T(30000),
    viewport: { width: 900, height: 600 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           ...(process.env.CHROMIUM_EXTRA_ARGS || '').split(' ').filter(Boolean)],
  });
  const done = async (rc) => {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
    process.exit(rc);
  };
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => process.stderr.write('console: ' + m.text() + '\n'));
    await page.goto(url, { timeout: T(15000) });
    await page.waitForFunction(() => document.getElementById('state').textContent === 'open',
                               null, { timeout: T(15000) });
    out({ ready: true, state: await page.textContent('#state'), title: await page.title() });
    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) {
      if (!line.trim()) continue;
      const cmd = JSON.parse(line);
      if (cmd.op === 'send') {
        await page.fill('#msg', cmd.text);
        await page.click('#send');
        out({ op: 'send', ok: true });
      } else if (cmd.op === 'wait') {
        await page.waitForFunction((t) => [...document.querySelectorAll('#log li')]
          .some((li) => li.textContent === t), cmd.text, { timeout: T(10000) });
        out({ op: 'wait', ok: true });
      } else if (cmd.op === 'shot') {
        fs.mkdirSync(path.dirname(shot), { recursive: true });
        await page.screenshot({ path: shot });
        const items = await page.$$eval('#log li', (els) => els.map((e) => [e.className, e.textContent]));
        out({ op: 'shot', ok: true, items });
      } else if (cmd.op === 'ext') {
        out({ op: 'ext', ok: true, extensions: await page.evaluate(() => ws.extensions) });
      } else if (cmd.op === 'quit') {
        out({ op: 'quit', ok: true });
        break;
      }
    }
    await done(0);
  } catch (e) {
    process.stderr.write('browser.js: ' + (e && e.stack || e) + '\n');
    out({ error: String(e && e.message || e) });
    await done(1);
  }
}
main();
