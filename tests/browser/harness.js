/*
 * harness.js: what the browser tests share (admin.test.js, tickets.test.js): one
 * line per check ("PASS name (N ms)", "FAIL name: why", "SKIP name" after an
 * essential check failed), numbered full-page screenshots, and the last line
 * "browser test: N passed, N failed; screenshots in DIR" that lib.sh's
 * browser_node reads.
 *
 *   const h = harness(artifactsDir, 'tickets-');   // file prefix ('' for none)
 *   await h.check('name', async () => { ... h.assert(ok, 'why'); }, { page, essential });
 *   await h.shot(page, 'step');                     // DIR/tickets-01-step.png
 *   h.run(async () => { ... });                     // runs main, then writes results and exits
 *   const browser = await launch(chromium, '/usr/bin/chromium');  // headless, no sandbox
 */
'use strict';

const fs = require('fs');
const path = require('path');

function harness(artifacts, prefix = '') {
  fs.mkdirSync(artifacts, { recursive: true });
  const results = [];
  let shotNo = 0, blockedBy = '';
  const log = s => process.stdout.write(s + '\n');
  const assert = (c, m) => { if (!c) throw new Error(m); };
  async function shot(page, name) {
    shotNo++;
    const file = path.join(artifacts, prefix + String(shotNo).padStart(2, '0') + '-' + name + '.png');
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }
  async function check(name, fn, opts = {}) {
    if (blockedBy) {
      results.push({ name, ok: false, skipped: true });
      log('SKIP ' + name + ' (after: ' + blockedBy + ')');
      return;
    }
    const t0 = Date.now();
    try {
      await fn();
      results.push({ name, ok: true });
      log('PASS ' + name + ' (' + (Date.now() - t0) + ' ms)');
    } catch (e) {
      results.push({ name, ok: false, error: String(e && e.stack || e) });
      log('FAIL ' + name + ': ' + String(e && e.message || e).split('\n').slice(0, 6).join('\n     '));
      if (opts.page) await shot(opts.page, 'FAILED-' + name.replace(/[^\w-]+/g, '-')).catch(() => {});
      if (opts.essential) blockedBy = name;
    }
  }
  /* the checks after an essential failure run again from here (a new walk) */
  function unblock() { blockedBy = ''; }
  function run(main) {
    main().catch(e => {
      results.push({ name: 'test harness', ok: false, error: String(e && e.stack || e) });
      log('FAIL test harness: ' + (e && e.stack || e));
    }).then(() => {
      const passed = results.filter(r => r.ok).length;
      const failed = results.length - passed;
      fs.writeFileSync(path.join(artifacts, prefix + 'results.json'), JSON.stringify(results, null, 2));
      log('browser test: ' + passed + ' passed, ' + failed + ' failed; screenshots in ' + artifacts);
      process.exit(failed ? 1 : 0);
    });
  }
  return { log, assert, shot, check, unblock, run };
}

/* Debian's chromium, headless, as root in a container: no sandbox, no GPU, no background traffic. */
function launch(chromium, executablePath) {
  return chromium.launch({ executablePath, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
}

module.exports = { harness, launch };
