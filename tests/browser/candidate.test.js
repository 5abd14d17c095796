#!/usr/bin/env node
/*
 * candidate.test.js: headless Chromium (playwright-core, Debian's chromium)
 * walks a candidate through the pages in tools/www, over the h2o edge (HTTPS,
 * HTTP/2) to a real cetd: account, login, agreement, qualification lookup,
 * binding, written and oral subjects, cancelling, paying, the registration
 * page; plus the refusals a candidate most often meets (oral without written,
 * one written subject per level, seat gone).
 *
 * Started by run.sh, which brings up cetd (--captcha off) and the edge:
 *   node candidate.test.js --base https://127.0.0.1:PORT --artifacts DIR \
 *     --candidate '{"id_type":..,"id_number":..,"name":..}' \
 *     [--fillers '[{candidate}, ...]'] [--payment-secret-file F]
 * --fillers: other roster candidates of the same school, used through the API
 * to take the last seats of an oral offer the tested candidate is looking at;
 * --seat-gone SUBJECT@CAMPUS names that offer (run.sh lowers it to 1 seat).
 * Prints one line per check and "N passed, N failed" last; exits 1 on any failure.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { chromium } = require('playwright-core');

/* ---------------------------------------------------------------- options */

function parseArgs(argv) {
  const o = { base: '', artifacts: 'artifacts', candidate: null, fillers: [], seatGone: '',
    paymentSecretFile: '', chromium: '/usr/bin/chromium', headed: false };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    switch (a) {
      case '--base': o.base = v.replace(/\/+$/, ''); i++; break;
      case '--artifacts': o.artifacts = v; i++; break;
      case '--candidate': o.candidate = JSON.parse(v); i++; break;
      case '--fillers': o.fillers = JSON.parse(v); i++; break;
      case '--seat-gone': o.seatGone = v; i++; break;
      case '--payment-secret-file': o.paymentSecretFile = v; i++; break;
      case '--chromium': o.chromium = v; i++; break;
      case '--headed': o.headed = true; break;
      default: throw new Error('unknown argument ' + a);
    }
  }
  if (!o.base || !o.candidate) throw new Error('--base and --candidate are required');
  return o;
}

const opt = parseArgs(process.argv);
fs.mkdirSync(opt.artifacts, { recursive: true });

/* ---------------------------------------------------------------- checks */

const results = [];
let shotNo = 0;

function log(s) { process.stdout.write(s + '\n'); }

/* check(name, fn): one named check; a failure is recorded, the walk goes on
 * unless the check is essential (then later checks are skipped). */
let blocked = '';
async function check(name, fn, opts = {}) {
  if (blocked) {
    results.push({ name, ok: false, skipped: true });
    log('SKIP ' + name + ' (after: ' + blocked + ')');
    return undefined;
  }
  const t0 = Date.now();
  try {
    const r = await fn();
    results.push({ name, ok: true });
    log('PASS ' + name + ' (' + (Date.now() - t0) + ' ms)');
    return r;
  } catch (e) {
    results.push({ name, ok: false, error: String(e && e.stack || e) });
    log('FAIL ' + name + ': ' + String(e && e.message || e).split('\n').slice(0, 6).join('\n     '));
    if (opts.page) await shot(opts.page, 'FAILED-' + name).catch(() => {});
    if (opts.essential) blocked = name;
    return undefined;
  }
}

function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function shot(page, name) {
  shotNo++;
  const file = path.join(opt.artifacts,
    String(shotNo).padStart(2, '0') + '-' + name.replace(/[^\w\u4e00-\u9fa5-]+/g, '-') + '.png');
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/* ---------------------------------------------------------------- page helpers */

/* Waits for a notice of the given kind containing text (string or RegExp). */
async function expectNotice(page, kind, text, timeout = 10000) {
  const loc = page.locator('.notice-' + kind, { hasText: text });
  await loc.first().waitFor({ state: 'visible', timeout });
  return (await loc.first().textContent()).trim();
}

async function expectNoError(page) {
  const n = await page.locator('#app .notice-error').count();
  if (n) throw new Error('page shows an error: ' + (await page.locator('#app .notice-error').first().textContent()));
}

/* Goes to a route as a link would; the same route again re-renders it. */
async function gotoRoute(page, route) {
  const hash = '#/' + route;
  if (!page.url().startsWith(opt.base + '/')) {
    await page.goto(opt.base + '/' + hash);
    await page.waitForSelector('#app[data-render]', { timeout: 15000 });
    return;
  }
  const before = await page.getAttribute('#app', 'data-render');
  await page.evaluate(h => {
    if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = h;
  }, hash);
  /* the page renders once its data arrived: wait for that render */
  await page.waitForFunction(b => document.querySelector('#app').getAttribute('data-render') !== b,
    before, { timeout: 15000 });
}

/* In-page API call with the page's own token (for calls no button makes). */
async function pageApi(page, method, p, body) {
  return page.evaluate(async ([method, p, body]) => {
    const headers = { Authorization: 'Bearer ' + sessionStorage.getItem('cet.token'), Accept: 'application/json' };
    if (body !== null) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') headers['Idempotency-Key'] = crypto.randomUUID();
    const r = await fetch('/api/v1' + p, { method, headers, body: body === null ? undefined : JSON.stringify(body) });
    let j = null;
    try { j = await r.json(); } catch (e) { j = null; }
    return { status: r.status, body: j };
  }, [method, p, body === undefined ? null : body]);
}

function offerRow(page, subject, campus) {
  let sel = '#offers tbody tr[data-subject="' + subject + '"]';
  if (campus) sel += '[data-campus="' + campus + '"]';
  return page.locator(sel);
}

/* Registers `subject` from the written/oral page; returns the message shown. */
async function clickRegister(page, kind, subject, campus) {
  await gotoRoute(page, kind);
  await page.locator('#offers, .notice-info').first().waitFor({ timeout: 10000 });
  const row = offerRow(page, subject, campus).first();
  assert(await row.count() > 0, 'no ' + kind + ' offer row for subject ' + subject + (campus ? ' at ' + campus : ''));
  await row.locator('button').click();
  const msg = page.locator('.notice-ok, .notice-error').first();
  await msg.waitFor({ timeout: 15000 });
  return { ok: (await msg.getAttribute('class')).includes('notice-ok'), text: (await msg.textContent()).trim() };
}

/* ---------------------------------------------------------------- the walk */

async function registerAndLogin(page, email, password, tag) {
  await check(tag + ': first visit shows the login page', async () => {
    await page.goto(opt.base + '/');
    await page.locator('form #email').waitFor({ timeout: 10000 });
    assert((await page.title()).includes('四、六级'), 'title: ' + await page.title());
    const capImg = page.locator('img.captcha-img');
    await capImg.waitFor();
    await page.waitForFunction(() => {
      const i = document.querySelector('img.captcha-img');
      return i && i.getAttribute('src');
    }, null, { timeout: 5000 }).catch(() => { throw new Error('no captcha image from POST /api/v1/captcha'); });
    await shot(page, tag + '-login');
  }, { page, essential: true });

  await check(tag + ': register an account', async () => {
    await page.click('a[href="#/register"]');
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.fill('#password2', password);
    await page.fill('#captcha_answer', '00000');
    await shot(page, tag + '-register-form');
    await page.click('button[type=submit]');
    await expectNotice(page, 'ok', '已注册');
    await shot(page, tag + '-registered');
  }, { page, essential: true });

  await check(tag + ': the same email again is refused (email_taken)', async () => {
    await gotoRoute(page, 'register');
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.fill('#password2', password);
    await page.fill('#captcha_answer', '00000');
    await page.click('button[type=submit]');
    await expectNotice(page, 'error', '该邮箱已注册');
  }, { page });

  await check(tag + ': log in', async () => {
    await gotoRoute(page, 'login');
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.fill('#captcha_answer', '00000');
    await page.click('button[type=submit]');
    await page.locator('#start').waitFor({ timeout: 10000 });
    const tok = await page.evaluate(() => sessionStorage.getItem('cet.token'));
    assert(tok && tok.length >= 16, 'no token in sessionStorage');
    await shot(page, tag + '-home');
  }, { page, essential: true });
}

async function agreeAndBind(page, cand, tag) {
  await check(tag + ': accept the agreement', async () => {
    await page.click('#start');
    await page.locator('#agree').waitFor();
    await shot(page, tag + '-agreement');
    await page.check('#agree');
    await page.click('button:has-text("同意")');
    await page.locator('#id_type').waitFor({ timeout: 10000 });
  }, { page, essential: true });

  await check(tag + ': lookup with a wrong name is refused (roster_not_found)', async () => {
    await page.selectOption('#id_type', cand.id_type);
    await page.fill('#id_number', cand.id_number);
    await page.fill('#name', cand.name + '错');
    await page.click('button[type=submit]');
    await expectNotice(page, 'error', '未查询到');
  }, { page });

  await check(tag + ': the military officer card is not offered', async () => {
    const values = await page.locator('#id_type option').evaluateAll(os => os.map(o => o.value).filter(Boolean));
    assert(values.length === 6, 'ID types offered: ' + values.join(','));
    assert(!values.some(v => /military/.test(v)), 'military offered');
  }, { page });

  await check(tag + ': qualification lookup shows the roster record', async () => {
    await page.fill('#name', cand.name);
    await page.click('button[type=submit]');
    await expectNotice(page, 'ok', '查询成功');
    await page.locator('text=资格信息确认').waitFor();
    const txt = await page.locator('#app').textContent();
    assert(txt.includes(cand.name), 'name not shown');
    assert(txt.includes('资格科目'), 'qualified subjects not shown');
    await shot(page, tag + '-qualification');
  }, { page, essential: true });

  await check(tag + ': bind after ticking the confirmation', async () => {
    assert(await page.isDisabled('#bind'), 'bind button enabled before ticking');
    await page.check('#confirm');
    await page.click('#bind');
    await page.locator('#reg-page').waitFor({ timeout: 15000 });
    await expectNoError(page);
    await shot(page, tag + '-bound-registration-page');
  }, { page, essential: true });
}

async function readCandidate(page) {
  const r = await pageApi(page, 'GET', '/candidate');
  assert(r.status === 200, 'GET /candidate: ' + r.status + ' ' + JSON.stringify(r.body));
  return r.body;
}

async function offers(page, kind) {
  const r = await pageApi(page, 'GET', '/offers?kind=' + kind);
  assert(r.status === 200, 'GET /offers: ' + r.status + ' ' + JSON.stringify(r.body));
  const list = Array.isArray(r.body) ? r.body : (r.body.offers || r.body.items || []);
  return list.map(o => ({
    subject: String(o.code || (typeof o.subject === 'object' ? o.subject.code : o.subject)),
    campus: typeof o.campus === 'object' ? o.campus.code : o.campus,
    seats: o.seats, fee: o.fee, raw: o
  }));
}

const LEVEL4 = ['1', '3', '5', '7', '9'];
const ORAL_OF = { 1: 'F', 2: 'S' };
const WRITTEN_OF = { F: '1', S: '2' };

/* The candidate's payment, as the payment platform would confirm it. */
async function payOrder(context, page, order) {
  /* pay_url leads to the payment simulator; if it offers a pay button, use it. */
  let viaSimulator = false;
  try {
    await page.waitForURL(u => !String(u).includes('#/registration'), { timeout: 10000 });
    await page.waitForLoadState('load', { timeout: 10000 });
    const btn = page.locator('[data-paysim-pay], button:has-text("确认支付"), button:has-text("支付成功"), button:has-text("Pay")').first();
    if (await btn.count()) {
      await shot(page, 'payment-simulator');
      await btn.click();
      viaSimulator = true;
      await page.waitForLoadState('load', { timeout: 10000 }).catch(() => {});
      await shot(page, 'payment-simulator-done');
      /* the simulator's link back to the site, when it has one */
      const back = page.locator('a#back, a:has-text("返回")').first();
      if (await back.count()) {
        await back.click();
        await page.waitForURL(u => String(u).startsWith(opt.base), { timeout: 10000 }).catch(() => {});
      }
    }
  } catch (e) { /* not reachable: confirm as the platform below */ }
  if (!viaSimulator || !(await waitPaid(page, context, order.order_id, 5000))) {
    assert(opt.paymentSecretFile, 'no payment simulator page and no --payment-secret-file');
    const secret = fs.readFileSync(opt.paymentSecretFile, 'utf8').trim();
    const body = JSON.stringify({
      order_id: order.order_id, amount: order.amount,
      paid_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      gateway_txn: 'BT' + crypto.randomBytes(8).toString('hex')
    });
    const sig = crypto.createHmac('sha256', secret).update(body).digest('hex');
    const r = await context.request.post(opt.base + '/api/v1/payments/notify', {
      headers: { 'Content-Type': 'application/json', 'X-Signature': sig }, data: body
    });
    assert(r.status() === 200, 'payment notice answered ' + r.status() + ' ' + await r.text());
  }
  return viaSimulator;
}

async function waitPaid(page, context, orderId, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const tok = await page.evaluate(() => sessionStorage.getItem('cet.token')).catch(() => null);
    if (!tok) return false;
    const r = await context.request.get(opt.base + '/api/v1/payments/' + encodeURIComponent(orderId),
      { headers: { Authorization: 'Bearer ' + tok } });
    if (r.ok() && (await r.json()).state === 'paid') return true;
    await new Promise(res => setTimeout(res, 300));
  }
  return false;
}

/* A filler candidate takes one seat of target through the API (no browser). */
async function fillerTakesSeat(context, cand, tag, target) {
  const req = context.request;
  const call = async (method, p, body, token) => {
    const headers = { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() };
    if (token) headers.Authorization = 'Bearer ' + token;
    const r = await req.fetch(opt.base + '/api/v1' + p, { method, headers, data: body === undefined ? undefined : JSON.stringify(body) });
    let j = null;
    try { j = await r.json(); } catch (e) { j = null; }
    if (r.status() >= 300) throw new Error(method + ' ' + p + ' -> ' + r.status() + ' ' + JSON.stringify(j));
    return j;
  };
  const email = 'filler-' + tag + '@example.com', password = 'Passw0rd-' + tag;
  const cap = async () => (await call('POST', '/captcha', {})).captcha_id || 'none';
  await call('POST', '/accounts', { email, password, captcha_id: await cap(), captcha_answer: '00000' });
  const s = await call('POST', '/sessions', { email, password, captcha_id: await cap(), captcha_answer: '00000' });
  await call('POST', '/agreement', {}, s.token);
  await call('POST', '/candidate', { id_type: cand.id_type, id_number: cand.id_number, name: cand.name, confirmed: true }, s.token);
  const written = WRITTEN_OF[target.subject];
  const w = await call('GET', '/offers?kind=written', undefined, s.token);
  const wl = Array.isArray(w) ? w : (w.offers || []);
  const wo = wl.find(o => String(o.subject) === written);
  if (!wo) throw new Error('filler ' + cand.name + ' has no written offer ' + written);
  await call('POST', '/registrations', { subject: written, campus: typeof wo.campus === 'object' ? wo.campus.code : wo.campus }, s.token);
  await call('POST', '/registrations', { subject: target.subject, campus: target.campus }, s.token);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: opt.chromium,
    headless: !opt.headed,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
    /* playwright gives every launch a fresh --user-data-dir of its own (and removes it). */
  });
  const protocols = new Map();
  const newPage = async (viewport) => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'zh-CN', viewport,
      timezoneId: 'Asia/Shanghai' });
    const page = await context.newPage();
    page.on('dialog', d => d.accept());
    page.on('pageerror', e => log('  page error: ' + e.message));
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.responseReceived', ev => {
      if (ev.response.url.startsWith(opt.base)) protocols.set(ev.response.url, ev.response.protocol);
    });
    return { context, page };
  };

  const run = Date.now().toString(36);
  const { context, page } = await newPage({ width: 1280, height: 900 });
  const cand = opt.candidate;

  await registerAndLogin(page, 'cand-' + run + '@example.com', 'Passw0rd-' + run, 'A');
  await agreeAndBind(page, cand, 'A');

  let cinfo = null;
  await check('A: the registration page shows the candidate and no subjects', async () => {
    cinfo = await readCandidate(page);
    const txt = await page.locator('#reg-page').textContent();
    assert(txt.includes(cand.name) || txt.includes('*'), 'candidate name missing');
    assert(await page.locator('#registrations').count() === 1, 'no registrations table');
  }, { page, essential: true });

  /* Which subjects this candidate may take now. */
  let written = [], oral = [];
  await check('A: written and oral offers are listed', async () => {
    written = await offers(page, 'written');
    oral = await offers(page, 'oral');
    assert(written.length > 0, 'no written offers');
    log('     written: ' + written.map(o => o.subject + '@' + o.campus + ':' + o.seats).join(' ') +
      ' | oral: ' + oral.map(o => o.subject + '@' + o.campus + ':' + o.seats).join(' '));
  }, { page, essential: true });

  const first = (written.find(o => o.subject === '1') || written.find(o => LEVEL4.includes(o.subject)) || written[0] || {});
  const oralCode = ORAL_OF[first.subject];

  await check('A: oral without its written subject is refused (oral_needs_written)', async () => {
    const o = oral.find(x => x.subject === oralCode && x.seats !== 'none');
    if (o) {
      const m = await clickRegister(page, 'oral', o.subject, o.campus);
      assert(!m.ok && m.text.includes('请先报考同语种、同级别的笔试'), 'expected the oral_needs_written message, got: ' + m.text);
    } else {
      /* the offers list hides orals until the written one is there: try the API. */
      const r = await pageApi(page, 'POST', '/registrations', { subject: oralCode || 'F', campus: first.campus });
      assert(r.status === 409 && r.body.error.code === 'oral_needs_written', 'got ' + r.status + ' ' + JSON.stringify(r.body));
      await gotoRoute(page, 'oral');
    }
    await shot(page, 'A-refused-oral-needs-written');
  }, { page });

  await check('A: register a written subject', async () => {
    const m = await clickRegister(page, 'written', first.subject, first.campus);
    assert(m.ok, 'not registered: ' + m.text);
    await shot(page, 'A-written-registered');
  }, { page, essential: true });

  await check('A: a second written subject of the same level is refused (one_per_level)', async () => {
    const level = LEVEL4.includes(first.subject) ? LEVEL4 : ['2', '4', '6', '8'];
    const other = written.find(o => o.subject !== first.subject && level.includes(o.subject));
    if (other) {
      const m = await clickRegister(page, 'written', other.subject, other.campus);
      assert(!m.ok && m.text.includes('同一级别的笔试只能报考一个科目'), 'expected one_per_level, got: ' + m.text);
    } else {
      const code = level.find(s => s !== first.subject);
      const r = await pageApi(page, 'POST', '/registrations', { subject: code, campus: first.campus });
      assert(r.status === 409 && ['one_per_level', 'not_qualified'].includes(r.body.error.code),
        'got ' + r.status + ' ' + JSON.stringify(r.body));
      log('     (candidate has a single level-' + (level === LEVEL4 ? 4 : 6) + ' subject: checked through the API: ' + r.body.error.code + ')');
      await gotoRoute(page, 'written');
    }
    await shot(page, 'A-refused-one-per-level');
  }, { page });

  let oralOffer = null;
  await check('A: oral offers show seat colours; a full one is disabled', async () => {
    oral = await offers(page, 'oral');
    await gotoRoute(page, 'oral');
    await page.locator('#offers, .notice-info').first().waitFor();
    for (const o of oral) {
      const row = offerRow(page, o.subject, o.campus).first();
      if (!(await row.count())) continue;
      const cls = await row.locator('.badge').first().getAttribute('class');
      const want = o.seats === 'none' ? 'seat-none' : o.seats === 'yellow' ? 'seat-yellow' : 'seat-green';
      assert(cls.includes(want), 'offer ' + o.subject + '@' + o.campus + ' seats ' + o.seats + ' shown as ' + cls);
      if (o.seats === 'none') assert(await row.locator('button').isDisabled(), 'full offer is clickable');
    }
    const [gs, gc] = opt.seatGone.split('@');
    oralOffer = oral.find(x => x.subject === gs && String(x.campus) === gc && x.seats !== 'none') ||
      oral.find(x => x.subject === oralCode && x.seats !== 'none');
    await shot(page, 'A-oral-offers');
  }, { page });

  await check('A: register the oral subject', async () => {
    assert(oralOffer, 'no oral offer for ' + oralCode + ' with seats');
    const m = await clickRegister(page, 'oral', oralOffer.subject, oralOffer.campus);
    assert(m.ok, 'not registered: ' + m.text);
    await shot(page, 'A-oral-registered');
  }, { page });

  await check('A: cancel the unpaid oral subject', async () => {
    assert(oralOffer, 'no oral registration');
    await gotoRoute(page, 'registration');
    const row = page.locator('#registrations tr[data-subject="' + oralOffer.subject + '"]');
    await row.locator('button:has-text("取消报考")').click();
    await row.waitFor({ state: 'detached', timeout: 10000 });
    await shot(page, 'A-oral-cancelled');
  }, { page });

  /*
   * Seat gone: A looks at an oral offer with a seat left; other candidates
   * (--fillers, through the API) take the remaining seats; A's click is
   * refused with seats_full and, reloaded, the offer shows red "无", disabled.
   */
  if (opt.fillers.length) {
    await check('A: a seat taken meanwhile by others is refused (seats_full), then shown red and disabled', async () => {
      const target = oralOffer || oral.find(x => x.subject === oralCode && x.seats !== 'none');
      assert(target, 'no oral offer with seats to fill');
      await gotoRoute(page, 'oral');
      const row = offerRow(page, target.subject, target.campus).first();
      await row.waitFor();
      const btn = row.locator('button');
      assert(await btn.count() && !(await btn.isDisabled()), 'the offer is not selectable for A');
      let filled = false, used = 0;
      for (const f of opt.fillers) {
        used++;
        await fillerTakesSeat(context, f, run + '-' + used, target);
        const now = (await offers(page, 'oral')).find(o => o.subject === target.subject && String(o.campus) === String(target.campus));
        if (!now || now.seats === 'none') { filled = true; break; }
      }
      assert(filled, 'the offer still has seats after ' + used + ' other candidates took one');
      log('     ' + used + ' other candidate(s) took the last seats of ' + target.subject + '@' + target.campus);
      await btn.click();
      await expectNotice(page, 'error', '考位已满');
      await shot(page, 'A-refused-seats-full');
      await gotoRoute(page, 'oral');
      const row2 = offerRow(page, target.subject, target.campus).first();
      await row2.waitFor();
      assert((await row2.locator('.badge').first().textContent()).includes('无'), 'full offer not shown as 无');
      assert(await row2.locator('button').isDisabled(), 'full offer still selectable');
      await shot(page, 'A-oral-offer-full');
    }, { page });
  }

  await check('A: take an oral subject (again) where seats remain', async () => {
    const o = (await offers(page, 'oral')).find(x => x.subject === oralCode && x.seats !== 'none');
    if (!o) { log('     no oral offer with seats left for ' + oralCode + ': paying the written subject only'); return; }
    const m = await clickRegister(page, 'oral', o.subject, o.campus);
    assert(m.ok, 'not registered: ' + m.text);
  }, { page });

  let order = null;
  await check('A: pay all unpaid subjects through the payment page', async () => {
    await gotoRoute(page, 'registration');
    await page.locator('#pay').waitFor({ timeout: 10000 });
    const unpaidText = await page.locator('#unpaid-total').textContent();
    assert(!/^0\.00/.test(unpaidText.trim()), 'nothing unpaid: ' + unpaidText);
    await shot(page, 'A-before-payment');
    /* Read the order from POST /payments before the page leaves for pay_url. */
    let status = 0, text = '';
    await page.route('**/api/v1/payments', async route => {
      if (route.request().method() !== 'POST') return route.continue();
      const resp = await route.fetch();
      status = resp.status();
      text = await resp.text();
      await route.fulfill({ response: resp, body: text });
    });
    await page.click('#pay');
    await page.waitForFunction(() => !location.hash.startsWith('#/registration') || document.querySelector('.notice-error'),
      null, { timeout: 15000 }).catch(() => {});
    await page.unroute('**/api/v1/payments');
    assert(status === 201, 'POST /payments answered ' + status + ' ' + text);
    order = JSON.parse(text);
    assert(order.order_id && order.pay_url && order.amount > 0, 'order: ' + JSON.stringify(order));
    const sim = await payOrder(context, page, order);
    log('     order ' + order.order_id + ' amount ' + order.amount + ' paid via ' + (sim ? 'the payment simulator' : 'a signed platform notice'));
  }, { page, essential: true });

  await check('A: back on the site, the payment page polls and shows success', async () => {
    /* the simulator sends the candidate back to the site; else come back by hand */
    await page.waitForURL(u => String(u).includes('#/pay/'), { timeout: 5000 }).catch(() => {});
    if (!page.url().includes('#/pay/')) await page.goto(opt.base + '/#/registration');
    await page.waitForURL(u => String(u).includes('#/pay/' + order.order_id), { timeout: 10000 });
    await expectNotice(page, 'ok', '缴费成功', 20000);
    await shot(page, 'A-payment-done');
  }, { page });

  await check('A: the registration page shows every subject paid, nothing unpaid', async () => {
    await gotoRoute(page, 'registration');
    await page.locator('#registrations').waitFor();
    const rows = page.locator('#registrations tbody tr[data-subject]');
    const n = await rows.count();
    assert(n >= 1, 'no registrations shown');
    for (let i = 0; i < n; i++) {
      const t = await rows.nth(i).textContent();
      assert(t.includes('已缴费'), 'row not paid: ' + t);
      assert(!(await rows.nth(i).locator('button:has-text("取消报考")').count()), 'a paid row offers cancel');
    }
    const total = (await page.locator('#unpaid-total').textContent()).trim();
    assert(total.startsWith('0.00'), 'unpaid total ' + total);
    const c = await readCandidate(page);
    const regs = [].concat(c.written || [], c.oral || []);
    assert(regs.every(r => r.state === 'paid'), 'API: not all paid: ' + JSON.stringify(regs.map(r => r.subject + ':' + r.state)));
    assert(c.unpaid && c.unpaid.total === 0, 'API unpaid: ' + JSON.stringify(c.unpaid));
    assert(regs.length === n, 'API has ' + regs.length + ' registrations, page ' + n);
    await shot(page, 'A-registration-paid');
  }, { page });

  await check('A: the registration page fits a phone screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await gotoRoute(page, 'registration');
    await page.locator('#registrations').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, 'horizontal overflow of ' + overflow + ' px');
    await shot(page, 'A-registration-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  }, { page });

  await check('every page and API answer came over HTTP/2', async () => {
    const seen = [...protocols.entries()];
    assert(seen.length > 5, 'only ' + seen.length + ' responses seen');
    /* POST /payments was fetched by the test itself (page.route), not by the page. */
    const other = seen.filter(([u, p]) => p !== 'h2' && !u.endsWith('/api/v1/payments'));
    assert(!other.length, 'not h2: ' + other.slice(0, 5).map(([u, p]) => p + ' ' + u).join(', '));
    log('     ' + seen.length + ' distinct URLs, all h2');
  });

  await check('log out ends the session', async () => {
    await page.click('#logout');
    await page.locator('form #email').waitFor({ timeout: 10000 });
    const tok = await page.evaluate(() => sessionStorage.getItem('cet.token'));
    assert(!tok, 'token still stored');
  }, { page });

  await browser.close();
}

main().catch(e => {
  results.push({ name: 'test harness', ok: false, error: String(e && e.stack || e) });
  log('FAIL test harness: ' + (e && e.stack || e));
}).then(() => {
  const passed = results.filter(r => r.ok).length;
  const skipped = results.filter(r => r.skipped).length;
  const failed = results.length - passed;
  fs.writeFileSync(path.join(opt.artifacts, 'results.json'), JSON.stringify(results, null, 2));
  log('browser test: ' + passed + ' passed, ' + failed + ' failed' + (skipped ? ' (' + skipped + ' of them skipped)' : '') +
    '; screenshots in ' + opt.artifacts);
  process.exit(failed ? 1 : 0);
});
