// The dashboard example (or dashboard_async, its tokio version: the same
// contract) in headless Chromium (Debian's), two pages at once: a toggle
// in one shows in both, the reading moves on its own, a reload shows the
// current state. Writes target/dashboard.png.
//
// Run the dashboard first, then: node --test tests/browser/dashboard.test.mjs
// (DASHBOARD_URL overrides http://127.0.0.1:8080/, DASHBOARD_SHOT the
// screenshot's path, so that runs against both servers keep theirs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const DASHBOARD = process.env.DASHBOARD_URL ?? 'http://127.0.0.1:8080/';
const SHOT = process.env.DASHBOARD_SHOT ?? fileURLToPath(new URL('../../target/dashboard.png', import.meta.url));

const text = (page, id) => page.evaluate((i) => document.getElementById(i).textContent, id);
const waitText = (page, id, want, timeout = 5000) =>
  page.waitForFunction(([i, w]) => document.getElementById(i).textContent === w, [id, want], { timeout });

test('two pages share the LED and see live readings', async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const a = await browser.newPage();
    const b = await browser.newPage();
    const t0 = Date.now();
    await a.goto(DASHBOARD);
    await b.goto(DASHBOARD);
    for (const p of [a, b]) {
      await p.waitForFunction(() => ['ON', 'OFF'].includes(document.getElementById('led').textContent));
      await waitText(p, 'status', 'connected');
    }
    console.log(`both pages connected in ${Date.now() - t0} ms`);
    // Chromium offers permessage-deflate; the dashboard (the adapters'
    // default Options) agrees it, so what it pushes comes compressed.
    for (const p of [a, b]) {
      const agreed = await p.evaluate(() => ws.extensions);
      assert.match(agreed, /^permessage-deflate/);
      console.log(`extension agreed: ${agreed}`);
    }

    // Toggle in page a: both pages follow.
    const before = await text(a, 'led');
    const after = before === 'ON' ? 'OFF' : 'ON';
    const t1 = Date.now();
    await a.click('#toggle');
    await waitText(a, 'led', after);
    await waitText(b, 'led', after);
    console.log(`toggle ${before} -> ${after} seen in both pages in ${Date.now() - t1} ms`);
    // And back, from page b.
    await b.click('#toggle');
    await waitText(a, 'led', before);
    await waitText(b, 'led', before);

    // The reading moves on its own (pushed once a second).
    const r1 = await text(b, 'reading');
    assert.match(r1, /^\d+\.\d\d$/);
    const t2 = Date.now();
    await b.waitForFunction((r) => document.getElementById('reading').textContent !== r, r1, { timeout: 3000 });
    console.log(`reading ${r1} -> ${await text(b, 'reading')} after ${Date.now() - t2} ms`);

    // A reload gets the current state.
    await a.click('#toggle');
    await waitText(b, 'led', after);
    await b.reload();
    await waitText(b, 'led', after);
    await waitText(b, 'status', 'connected');
    assert.equal(await text(a, 'led'), await text(b, 'led'));

    await a.screenshot({ path: SHOT });
    console.log(`screenshot: ${SHOT}`);
  } finally {
    await browser.close();
  }
});
