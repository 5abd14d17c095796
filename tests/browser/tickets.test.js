#!/usr/bin/env node
/*
 * tickets.test.js: print day in the candidate's pages (tools/www/tickets.html), headless
 * Chromium (playwright-core, Debian's chromium) over the h2o edge to a real cetd whose
 * clock is at the sitting's print date, on a 390x844 phone and a 1366x768 desk:
 * the paid and arranged English-4 registration shows its admission ticket number,
 * room, seat and exam time (what GET /api/v1/candidate says, and what the PDF
 * says), and the download button gives the PDF. Screenshots in --artifacts.
 *
 * Started by run_tickets.sh:
 *   node tickets.test.js --base https://127.0.0.1:PORT --artifacts DIR \
 *     --candidates '[{"token":..,"id_number":..,"name":..,"number":..,"room":..,"seat":..}, ...]'
 * Prints one line per check and "browser test: N passed, N failed" last.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');
const { harness, launch } = require('./harness');

function parseArgs(argv) {
  const o = { base: '', artifacts: 'artifacts', candidates: null, chromium: '/usr/bin/chromium' };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    switch (a) {
      case '--base': o.base = v.replace(/\/+$/, ''); i++; break;
      case '--artifacts': o.artifacts = v; i++; break;
      case '--candidates': o.candidates = JSON.parse(v); i++; break;
      case '--chromium': o.chromium = v; i++; break;
      default: throw new Error('unknown argument ' + a);
    }
  }
  if (!o.base || !o.candidates || o.candidates.length < 2) throw new Error('--base and two --candidates are required');
  return o;
}
const opt = parseArgs(process.argv);
const DESK = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };
const { log, assert, shot, check, run } = harness(opt.artifacts, 'tickets-');

/* one candidate's print-day visit: logged in already (the session in sessionStorage) */
async function visit(browser, cand, viewport, label) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'zh-CN', viewport,
    timezoneId: 'Asia/Shanghai', acceptDownloads: true });
  await context.addInitScript(t => { sessionStorage.setItem('cet.token', t); }, cand.token);
  const page = await context.newPage();
  page.on('pageerror', e => log('  page error: ' + e.message));

  await check(label + ': the tickets page shows the ticket number, room, seat and time', async () => {
    await page.goto(opt.base + '/tickets.html');
    const seat = page.locator('#seat-1');
    await seat.waitFor({ state: 'visible', timeout: 15000 });
    const text = (await seat.textContent()).trim();
    assert(text.includes(cand.number), 'ticket number ' + cand.number + ' not in: ' + text);
    assert(text.includes('第' + cand.room + '考场'), 'room ' + cand.room + ' not in: ' + text);
    assert(text.includes(cand.seat + '号座位'), 'seat ' + cand.seat + ' not in: ' + text);
    assert(text.includes('09:00-11:20'), 'exam time not in: ' + text);
    const status = (await page.locator('#tickets-page').textContent());
    assert(!status.includes('尚未开始'), 'the page says printing has not begun: ' + status);
    await shot(page, label + '-seat');
  }, { page });

  await check(label + ': the download button gives the PDF of that ticket', async () => {
    const [dl] = await Promise.all([
      page.waitForEvent('download', { timeout: 20000 }),
      page.click('#ticket-1')
    ]);
    const file = path.join(opt.artifacts, 'tickets-' + label + '-' + cand.number + '.pdf');
    await dl.saveAs(file);
    const head = fs.readFileSync(file).subarray(0, 5).toString('latin1');
    assert(head === '%PDF-', 'not a PDF: ' + JSON.stringify(head));
    await page.locator('#tickets-page, .msg-ok').first().waitFor();
    await shot(page, label + '-downloaded');
  }, { page });

  await check(label + ': nothing on the page is wider than the screen', async () => {
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(over <= 1, 'the page scrolls sideways by ' + over + ' px');
  }, { page });
  await context.close();
}

async function main() {
  const browser = await launch(chromium, opt.chromium);
  await visit(browser, opt.candidates[0], PHONE, 'phone');
  await visit(browser, opt.candidates[1], DESK, 'desk');
  await browser.close();
}

run(main);
