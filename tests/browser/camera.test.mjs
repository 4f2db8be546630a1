// The camera example in headless Chromium (Debian's): the page shows the
// live picture. The <img> decodes frames of the real JPEG size, its
// picture changes, the page's frame counter and rate move. Writes
// target/camera.png.
//
// Run the camera first, then: node --test tests/browser/camera.test.mjs
// (CAMERA_URL overrides http://127.0.0.1:8081/).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const CAMERA = process.env.CAMERA_URL ?? 'http://127.0.0.1:8081/';
const SHOT = fileURLToPath(new URL('../../target/camera.png', import.meta.url));

const frames = (page) => page.evaluate(() => Number(document.getElementById('frames').textContent));
// The picture as the page shows it: its size once decoded, and a sample of
// its pixels (drawn onto a canvas), to tell one frame from the next.
const picture = (page) => page.evaluate(() => {
  const img = document.getElementById('view');
  if (!img.complete || img.naturalWidth === 0) return null;
  const c = document.createElement('canvas');
  c.width = 64; c.height = 48;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0, 64, 48);
  const px = g.getImageData(0, 0, 64, 48).data;
  let sum = 0;
  for (let i = 0; i < px.length; i += 4) sum = (sum * 31 + px[i] + px[i + 1] + px[i + 2]) >>> 0;
  return { width: img.naturalWidth, height: img.naturalHeight, src: img.src, sum };
});

// The picture once the <img> holds a decoded one (frames replace each
// other every 100 ms; between a new src and its load, complete is false).
const settled = async (page) => {
  await page.waitForFunction(() => {
    const img = document.getElementById('view');
    return img.complete && img.naturalWidth > 0;
  }, null, { timeout: 10000, polling: 10 });
  for (let i = 0; i < 50; i++) {
    const p = await picture(page);
    if (p) return p;
    await page.waitForTimeout(10);
  }
  throw new Error('the <img> never held a decoded picture for long enough to look at it');
};

test('the page shows the live camera picture', async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 760, height: 680 } });
    const t0 = Date.now();
    await page.goto(CAMERA);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'live', null, { timeout: 10000 });
    const first = await settled(page);
    console.log(`first picture ${first.width}x${first.height} after ${Date.now() - t0} ms`);
    assert.equal(first.width, 640);
    assert.equal(first.height, 480);

    // Frames keep coming: over 3 s the counter moves by ~30, and the
    // picture itself changes (looked at every 250 ms: new images, other
    // pixels; the camera's loop is 3 s, so not just first and last).
    const n1 = await frames(page);
    const t1 = Date.now();
    const sums = new Set();
    const srcs = new Set();
    while (Date.now() - t1 < 3000) {
      await page.waitForTimeout(250);
      const p = await picture(page);
      if (p) { sums.add(p.sum); srcs.add(p.src); }
    }
    const n2 = await frames(page);
    const rate = (n2 - n1) / ((Date.now() - t1) / 1000);
    const fps = await page.evaluate(() => Number(document.getElementById('fps').textContent));
    console.log(`${n2 - n1} frames in 3 s (${rate.toFixed(1)}/s), the page says ${fps} fps`);
    assert.ok(rate >= 8, `frames arrive at ${rate.toFixed(1)}/s, want >= 8`);
    assert.ok(fps >= 8, `the page shows ${fps} fps`);
    console.log(`${srcs.size} image sources and ${sums.size} distinct pictures in 12 looks`);
    assert.ok(srcs.size >= 6, `the image changed ${srcs.size} times in 12 looks`);
    assert.ok(sums.size >= 6, `${sums.size} distinct pictures in 12 looks`);
    // The page swaps the picture 10 times a second, so a look can fall
    // while the next one loads (img.complete is false then): wait for it.
    const last = await settled(page);
    assert.equal(last.width, 640, 'the image still shows');

    await page.screenshot({ path: SHOT });
    console.log(`screenshot: ${SHOT}`);
  } finally {
    await browser.close();
  }
});
