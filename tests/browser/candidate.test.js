#!/usr/bin/env node
/*
 * candidate.test.js: headless Chromium (playwright-core, Debian's chromium)
 * walks the official candidate guide (reference/cet-registration-guide.zh.txt,
 * steps 1-16) through the pages in tools/www, over the h2o edge (HTTPS,
 * HTTP/2) to a real cetd and the payment simulator, twice:
 *
 *   P: a 390x844 phone. The candidate passed CET4 (a score under the same ID
 *      number): on 资格信息确认 the CET6资格复核 button saves the record and
 *      the review approves automatically, so 英语六级笔试 and 英语六级口试
 *      are then offered and taken; pays everything.
 *   D: a 1366x768 desk. 保存并继续 without a review; the 24-hour deletion
 *      notice; one written subject per level shown before the click; the oral
 *      refused before its written one; campus choice with the school's
 *      announcement; a seat taken meanwhile by others (seats_full); the cancel
 *      dialogs; the oral-with-its-written payment rule; pays; and no table
 *      cell wraps a money amount, a date or a subject name.
 *
 * Every step leaves a screenshot in --artifacts (NN-<walk>-<step>.png).
 *
 * Started by run.sh, which brings up cetd (--captcha off), the edge and paysim:
 *   node candidate.test.js --base https://127.0.0.1:PORT --artifacts DIR \
 *     --candidate '{"id_type":..,"id_number":..,"name":..}' \
 *     --phone-candidate '{"id_type":..,"id_number":..,"name":..,"ticket":..}' \
 *     [--fillers '[{candidate}, ...]'] [--seat-gone SUBJECT@CAMPUS] [--payment-secret-file F]
 * Prints one line per check and "N passed, N failed" last; exits 1 on any failure.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { chromium } = require('playwright-core');

/* ---------------------------------------------------------------- options */

function parseArgs(argv) {
  const o = { base: '', artifacts: 'artifacts', candidate: null, phone: null, fillers: [], seatGone: '',
    paymentSecretFile: '', chromium: '/usr/bin/chromium', headed: false };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    switch (a) {
      case '--base': o.base = v.replace(/\/+$/, ''); i++; break;
      case '--artifacts': o.artifacts = v; i++; break;
      case '--candidate': o.candidate = JSON.parse(v); i++; break;
      case '--phone-candidate': o.phone = JSON.parse(v); i++; break;
      case '--fillers': o.fillers = JSON.parse(v); i++; break;
      case '--seat-gone': o.seatGone = v; i++; break;
      case '--payment-secret-file': o.paymentSecretFile = v; i++; break;
      case '--lookup-api': o.lookupApi = v.replace(/\/+$/, ''); i++; break;
      case '--chromium': o.chromium = v; i++; break;
      case '--headed': o.headed = true; break;
      default: throw new Error('unknown argument ' + a);
    }
  }
  if (!o.base || !o.candidate || !o.phone) throw new Error('--base, --candidate and --phone-candidate are required');
  return o;
}

const opt = parseArgs(process.argv);
fs.mkdirSync(opt.artifacts, { recursive: true });

const PHONE = { width: 390, height: 844 };
const DESK = { width: 1366, height: 768 };

/* ---------------------------------------------------------------- checks */

const results = [];
let shotNo = 0;

function log(s) { process.stdout.write(s + '\n'); }

/* check(name, fn): one named check; a failure is recorded, the walk goes on
 * unless the check is essential (then the rest of that walk is skipped). */
let blockedBy = '';
async function check(name, fn, opts = {}) {
  if (blockedBy) {
    results.push({ name, ok: false, skipped: true });
    log('SKIP ' + name + ' (after: ' + blockedBy + ')');
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
    if (opts.essential) blockedBy = name;
    return undefined;
  }
}

function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function shot(page, name) {
  shotNo++;
  const file = path.join(opt.artifacts,
    String(shotNo).padStart(2, '0') + '-' + name.replace(/[^\w\u4e00-\u9fa5-]+/g, '-') + '.png');
  /* a dialog is fixed to the viewport: take what the candidate sees */
  const dialogOpen = await page.locator('.overlay').count().catch(() => 0);
  await page.screenshot({ path: file, fullPage: !dialogOpen });
  return file;
}

/* ---------------------------------------------------------------- page helpers */

async function expectNotice(page, kind, text, timeout = 10000, root = '') {
  const loc = page.locator((root ? root + ' ' : '') + '.notice-' + kind, { hasText: text });
  await loc.first().waitFor({ state: 'visible', timeout });
  return (await loc.first().textContent()).trim();
}

async function expectNoError(page) {
  const n = await page.locator('#app .notice-error').count();
  if (n) throw new Error('page shows an error: ' + (await page.locator('#app .notice-error').first().textContent()));
}

/* Goes to a route as a link would; waits for the page's next render. */
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
  await page.waitForFunction(b => document.querySelector('#app').getAttribute('data-render') !== b,
    before, { timeout: 15000 });
}

/* Waits for the route's own render after a click that navigates. */
async function clickAndRender(page, selector) {
  const before = await page.getAttribute('#app', 'data-render');
  await page.click(selector);
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

async function apiOk(page, method, p, body) {
  const r = await pageApi(page, method, p, body);
  assert(r.status >= 200 && r.status < 300, method + ' ' + p + ': ' + r.status + ' ' + JSON.stringify(r.body));
  return r.body;
}

/* The reason text beside a disabled button (span.blocked > span.reason). */
async function reasonOf(btn) {
  return (await btn.locator('xpath=..').locator('.reason').first().textContent()).trim();
}

/* No horizontal scrolling on a phone. */
async function fitsWidth(page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 1, 'horizontal overflow of ' + overflow + ' px');
}

/* An element is wholly inside the viewport, as seen without scrolling (a
 * dialog's own buttons, on a phone). */
async function inView(page, selector) {
  const r = await page.locator(selector).first().evaluate(el => {
    const b = el.getBoundingClientRect();
    const x = b.left + b.width / 2, y = b.top + b.height / 2;
    const top = document.elementFromPoint(x, y);
    return { top: b.top, bottom: b.bottom, vh: window.innerHeight, hit: !!top && (top === el || el.contains(top)) };
  });
  assert(r.top >= 0 && r.bottom <= r.vh && r.hit, selector + ' not in view without scrolling: ' + JSON.stringify(r));
}

/* On a phone every tap target of the page (or of the open dialog) is at least
 * 44 px high and wide: buttons, button-like links, inline links, selects, text
 * inputs, and the labels holding checkboxes and radios. */
async function tapTargets(page, label) {
  const bad = await page.evaluate(() => {
    const root = document.querySelector('.overlay') || document;
    const out = [];
    const sel = 'button, a[href], select, input[type=text], input[type=email], input[type=password], ' +
      'label.check, label.radio, label.paypick';
    root.querySelectorAll(sel).forEach(el => {
      const b = el.getBoundingClientRect();
      if (!b.width || !b.height || getComputedStyle(el).visibility === 'hidden') return;
      if (el.closest('.site-header') && el.closest('a.brand')) return;
      if (b.height < 44 || b.width < 44) {
        out.push((el.id ? '#' + el.id : el.tagName.toLowerCase() + '.' + [...el.classList].join('.')) +
          ' "' + (el.textContent || '').trim().slice(0, 12) + '" ' + Math.round(b.width) + 'x' + Math.round(b.height));
      }
    });
    return out;
  });
  assert(!bad.length, label + ': tap targets under 44 px: ' + bad.slice(0, 6).join('; '));
}

/*
 * On a desk, no table cell wraps a money amount, a date, a subject name or a
 * school or campus name: every .money/.date span inside a table is one box
 * (getClientRects), and the text of every td.subj and td.place sits on one line
 * (its client rects share one top, and the text is one line high: measured on
 * the text, not the cell, which a tall neighbour in its row may stretch).
 */
function wrapsIn(root) {
  const out = [];
  root.querySelectorAll('table .money, table .date').forEach(el => {
      const n = el.getClientRects().length;
      if (n !== 1) out.push(el.className + ' "' + el.textContent + '" in ' + n + ' boxes');
  });
  root.querySelectorAll('table td.subj, table td.place').forEach(td => {
      const range = document.createRange();
      range.selectNodeContents(td);
      const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      const lh = parseFloat(getComputedStyle(td).lineHeight) || 20;
      const inner = range.getBoundingClientRect().height;
      if (tops.size > 1 || inner > lh * 1.5) out.push((td.classList.contains('place') ? 'place' : 'subject') + ' "' + td.textContent + '" on ' + tops.size + ' lines (' + Math.round(inner) + ' px, line ' + lh + ')');
  });
  return { bad: out, n: root.querySelectorAll('table .money, table .date, table td.subj, table td.place').length };
}

async function noWraps(page, label) {
  const bad = await page.evaluate('(' + wrapsIn.toString() + ')(document)');
  assert(bad.n > 0, label + ': no money, date or subject cell to check');
  assert(!bad.bad.length, label + ': ' + bad.bad.slice(0, 5).join('; '));
  return bad.n;
}

function day(t) { return String(t || '').slice(0, 10); }

/* ---------------------------------------------------------------- the walk, steps 1-4 */

async function accountAndAgreement(page, tag, email, password) {
  await check(tag + ' step 1: the first page is the entry (进入报名 ...), then the login; no 退出 while logged out', async () => {
    await page.goto(opt.base + '/');
    await page.locator('#entry #enter').waitFor({ timeout: 10000 });
    for (const id of ['#entry-register', '#entry-recover', '#entry-forgot', '#entry-faq', '#entry-times']) {
      assert(await page.isVisible(id), 'the entry page lacks ' + id);
    }
    await page.locator('#exam-times').waitFor({ timeout: 10000 }); /* 考试时间 from GET /sitting */
    await shot(page, tag + '-00-entry');
    await page.click('#enter');
    await page.locator('form #email').waitFor({ timeout: 10000 });
    assert((await page.title()).includes('四、六级'), 'title: ' + await page.title());
    assert(!(await page.isVisible('#logout')), '退出 is shown while logged out');
    assert(!(await page.isVisible('#userbar')), 'the user bar is shown while logged out');
    await page.waitForFunction(() => {
      const i = document.querySelector('img.captcha-img');
      return i && i.getAttribute('src');
    }, null, { timeout: 5000 }).catch(() => { throw new Error('no captcha image from POST /api/v1/captcha'); });
    await shot(page, tag + '-01-login');
  }, { page, essential: true });

  await check(tag + ' step 2 (流程二): register an account; the same email again is refused', async () => {
    await page.click('#to-register');
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.fill('#password2', password);
    await page.fill('#captcha_answer', '00000');
    await page.click('button[type=submit]');
    await expectNotice(page, 'ok', '已注册');
    await gotoRoute(page, 'register');
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.fill('#password2', password);
    await page.fill('#captcha_answer', '00000');
    await page.click('button[type=submit]');
    const t = await expectNotice(page, 'error', '该邮箱已注册');
    assert(t.includes('email_taken'), 'the refusal does not name its code: ' + t);
  }, { page, essential: true });

  await check(tag + ' step 2: a refusal about one field is shown under that field (email taken, weak password)', async () => {
    await expectNotice(page, 'error', '该邮箱已注册', 5000, '.form-row:has(#email)');
    await page.fill('#email', 'other-' + email);
    await page.fill('#password', 'short');
    await page.fill('#password2', 'short');
    await page.click('button[type=submit]');
    await expectNotice(page, 'error', '密码须为8至128位', 5000, '.form-row:has(#password)');
    assert(!(await page.locator('.form-row:has(#email) .notice-error').count()), 'the email refusal stays after the email changed');
  }, { page });

  await check(tag + ' step 2: log in with account, password and captcha', async () => {
    await gotoRoute(page, 'login');
    await page.fill('#email', email);
    await page.fill('#password', password + 'x');
    await page.fill('#captcha_answer', '00000');
    await page.click('button[type=submit]');
    await expectNotice(page, 'error', '账号或密码错误');
    await page.fill('#password', password);
    await page.fill('#captcha_answer', '00000');
    await page.click('button[type=submit]');
    await page.locator('#start').waitFor({ timeout: 10000 });
  }, { page, essential: true });

  await check(tag + ' step 3: home shows the sitting, exam days, print date; header 姓名：未设置', async () => {
    const me = await apiOk(page, 'GET', '/me');
    const s = me.sitting;
    const times = await page.locator('#exam-times').textContent();
    for (const [k, v] of [['written_date', s.written_date], ['oral_date_4', s.oral_date_4],
      ['oral_date_6', s.oral_date_6], ['print_opens', s.print_opens], ['registration_opens', s.registration_opens]]) {
      assert(v && times.includes(day(v)), k + ' ' + v + ' not on the home page: ' + times);
    }
    const basic = await page.locator('#basic-info').textContent();
    assert(basic.includes(s.name) && basic.includes('未报名或当前通行证账号非报名时账号'), 'basic info: ' + basic);
    assert(await page.isVisible('#logout'), '退出 not shown when logged in');
    assert((await page.textContent('#userbar-name')).trim() === '未设置', 'header name before binding: ' + await page.textContent('#userbar-name'));
    assert((await page.textContent('#userbar-sitting')).includes(s.name), 'header sitting');
    await shot(page, tag + '-03-home');
  }, { page, essential: true });

  await check(tag + ' step 4: 报名协议: 同意 is disabled with its reason until ticked', async () => {
    await clickAndRender(page, '#start');
    await page.locator('#agree').waitFor();
    assert(await page.isDisabled('#agree-button'), '同意 enabled before ticking');
    assert((await page.textContent('#agree-reason')).includes('请先勾选'), 'no reason beside 同意');
    await shot(page, tag + '-04-agreement');
    await page.check('#agree');
    assert(!(await page.isVisible('#agree-reason')), 'the reason stays after ticking');
    await page.click('#agree-button');
    await page.locator('#id_type').waitFor({ timeout: 10000 });
  }, { page, essential: true });
}

/* Step 5: 资格信息查询, a wrong name first, then the 查询成功 prompt. */
async function lookup(page, tag, cand, lookupOnly) {
  if (cand.id_type === 'mainland') {
    await check(tag + ' step 5: a wrong ID check digit is refused under the ID number', async () => {
      await page.selectOption('#id_type', cand.id_type);
      const d = cand.id_number.slice(0, 17), last = cand.id_number.slice(17).toUpperCase();
      await page.fill('#id_number', d + (last === '0' ? '1' : '0'));
      await page.fill('#name', cand.name);
      await page.click('#query');
      await expectNotice(page, 'error', '校验位错误', 5000, '.form-row:has(#id_number)');
      if (tag === 'P') await shot(page, tag + '-05-check-digit-beside-field');
    }, { page });
  }

  await check(tag + ' step 5: 资格信息查询: the six ID types, a wrong name refused beside the form', async () => {
    const values = await page.locator('#id_type option').evaluateAll(os => os.map(o => o.value).filter(Boolean));
    assert(values.length === 6 && !values.some(v => /military/.test(v)), 'ID types offered: ' + values.join(','));
    await page.selectOption('#id_type', cand.id_type);
    await page.fill('#id_number', cand.id_number);
    await page.fill('#name', cand.name + '错');
    await page.click('#query');
    const t = await expectNotice(page, 'error', '未查询到', 10000, 'form');
    assert(t.includes('roster_not_found'), t);
    await page.fill('#name', cand.name);
    await page.click('#query');
    await page.locator('#query-ok').waitFor({ timeout: 10000 });
    assert((await page.textContent('#query-ok')).includes('查询成功'), 'no 查询成功 prompt');
    await shot(page, tag + '-05-query-ok');
    await page.click('#query-ok-button');
    await page.locator('#confirmation').waitFor({ timeout: 10000 });
  }, { page, essential: true });

  await check(tag + ' step 6: 资格信息确认 shows the person, 资格科目 and 学籍信息', async () => {
    const person = await page.textContent('#person');
    for (const w of ['姓名', '性别', '证件类型', '证件号码', '资格科目', cand.name, cand.id_number, '英语四级笔试']) {
      assert(person.includes(w), 'missing ' + w + ' in: ' + person);
    }
    const roster = await page.textContent('#roster');
    for (const w of ['笔试报名学校', '笔试报名校区', '学历', '学制', '入学年份', '年级', '院系', '专业', '班级', '学号']) {
      assert(roster.includes(w), 'missing ' + w);
    }
    assert(await page.isDisabled('#bind'), '保存并继续 enabled before ticking');
    const reason = await page.textContent('#bind-reason');
    assert(reason.includes(lookupOnly ? '尚未到考生网上报名时间' : '请勾选确认'), 'reason beside 保存并继续: ' + reason);
    await shot(page, tag + '-06-confirmation');
  }, { page, essential: true });
}

/* ---------------------------------------------------------------- payment (steps 15-16) */

async function payAll(page, context, tag) {
  let order = null;
  await check(tag + ' step 15: 支付 opens 确认报考信息 with the sum of the ticked subjects', async () => {
    await gotoRoute(page, 'registration');
    await page.locator('button.pay').first().waitFor({ timeout: 10000 });
    /* the written table's 支付, or the oral table's when only orals are left to pay */
    const pay = (await page.locator('#pay').count()) ? '#pay' : '#pay-oral';
    assert(!(await page.isDisabled(pay)), '支付 disabled: ' + await reasonOf(page.locator(pay)));
    const c = await apiOk(page, 'GET', '/candidate');
    await shot(page, tag + '-15-before-payment');
    await page.click(pay);
    await page.locator('#pay-dialog-1').waitFor();
    const sum = (await page.textContent('#pay-sum')).trim();
    assert(sum === '¥' + (c.unpaid.total / 100).toFixed(2), 'dialog sum ' + sum + ', unpaid ' + c.unpaid.total);
    assert((await page.textContent('#pay-dialog-1')).includes('确认报考信息'), 'first dialog');
    await shot(page, tag + '-15-pay-confirm-1');
  }, { page, essential: true });

  await check(tag + ' step 15: 确认报考信息 shows its 去支付 and the channels without scrolling' + (tag === 'P' ? ', 44 px targets' : ''), async () => {
    await inView(page, '#pay-go');
    await inView(page, '#pay-dialog-1 input[name=channel][value=bank]');
    if (tag === 'P') await tapTargets(page, 'pay dialog 1');
  }, { page });

  await check(tag + ' step 15: it asks twice (去支付, then 确定) and then leaves for the platform', async () => {
    const c = await apiOk(page, 'GET', '/candidate');
    await page.click('#pay-go');
    await page.locator('#pay-dialog-2').waitFor();
    assert(page.url().startsWith(opt.base), 'left the site after one click');
    const txt = await page.textContent('#pay-final');
    assert(txt.includes('支付宝') && txt.includes((c.unpaid.total / 100).toFixed(2)), 'second dialog: ' + txt);
    await inView(page, '#pay-confirm');
    await shot(page, tag + '-15-pay-confirm-2');
    let status = 0, text = '';
    await page.route('**/api/v1/payments', async route => {
      if (route.request().method() !== 'POST') return route.continue();
      const resp = await route.fetch();
      status = resp.status();
      text = await resp.text();
      await route.fulfill({ response: resp, body: text });
    });
    await page.click('#pay-confirm');
    await page.waitForURL(u => !String(u).startsWith(opt.base), { timeout: 15000 });
    await page.unroute('**/api/v1/payments');
    assert(status === 201, 'POST /payments answered ' + status + ' ' + text);
    order = JSON.parse(text);
    assert(order.amount === c.unpaid.total, 'order amount ' + order.amount);
  }, { page, essential: true });

  await check(tag + ' step 16: the platform shows 支付宝 (not the code), pays, and comes back', async () => {
    await page.waitForLoadState('load');
    await page.locator('#confirm').waitFor({ timeout: 10000 });
    const ch = (await page.textContent('#channel')).trim();
    assert(ch === '支付宝', 'the simulator shows the channel as ' + ch);
    assert((await page.textContent('#amount')).includes((order.amount / 100).toFixed(2)), 'amount on the platform');
    await shot(page, tag + '-16-platform');
    await page.click('#confirm');
    await page.locator('#result').waitFor({ timeout: 10000 });
    assert((await page.textContent('#result')).includes('支付成功'), await page.textContent('#result'));
    await page.click('a#back');
    await page.waitForURL(u => String(u).includes('#/pay/' + order.order_id), { timeout: 15000 });
    await expectNotice(page, 'ok', '支付成功', 20000);
    await shot(page, tag + '-16-paid');
  }, { page, essential: true });

  await check(tag + ' step 16: back from the platform (a full page load) the header still shows 姓名 and 考次', async () => {
    await page.waitForFunction(() => document.querySelector('#userbar-sitting').textContent.trim() !== '—', null, { timeout: 10000 })
      .catch(() => {});
    const name = (await page.textContent('#userbar-name')).trim(), sit = (await page.textContent('#userbar-sitting')).trim();
    assert(name !== '未设置' && sit !== '—', 'header after the platform: 姓名 ' + name + ', 考次 ' + sit);
  }, { page });

  await check(tag + ' after paying: every row 已支付, 全部已支付 未支付：¥0.00, no cancel', async () => {
    await gotoRoute(page, 'registration');
    const rows = page.locator('table.regs tbody tr[data-subject]');
    const n = await rows.count();
    const c = await apiOk(page, 'GET', '/candidate');
    const regs = [].concat(c.written, c.oral);
    assert(n === regs.length && n > 0, 'rows ' + n + ', API ' + regs.length);
    for (let i = 0; i < n; i++) {
      const t = await rows.nth(i).textContent();
      assert(t.includes('已支付'), 'row not paid: ' + t);
      assert(!(await rows.nth(i).locator('button.cancel').count()), 'a paid row offers cancel');
    }
    assert(regs.every(r => r.state === 'paid') && c.unpaid.total === 0, 'API: ' + JSON.stringify(c.unpaid));
    const ws = await page.textContent('#written-status');
    assert(ws.includes('全部已支付') && ws.includes('¥0.00'), 'written status: ' + ws);
    assert(!(await page.locator('#pay').count()), 'a 支付 button with nothing to pay');
    await shot(page, tag + '-16-registration-paid');
  }, { page });
}

/* ---------------------------------------------------------------- P: the phone, with the CET6 review */

async function phoneWalk(browser, newPage) {
  const { context, page } = await newPage(PHONE);
  const cand = opt.phone;
  const run = Date.now().toString(36);
  blockedBy = '';
  await accountAndAgreement(page, 'P', 'phone-' + run + '@example.com', 'Passw0rd-' + run);
  await lookup(page, 'P', cand);

  await check('P step 7: CET6资格复核 on 资格信息确认: disabled with its reason, then the form of the guide', async () => {
    await fitsWidth(page);
    const btn = page.locator('#review-open');
    assert(await btn.count() === 1, 'no CET6资格复核 button on the confirmation page');
    assert(await btn.isDisabled(), 'review button enabled before the record can be saved');
    assert((await page.textContent('#review-reason')).includes('勾选'), 'no reason beside the review button');
    const bg = await btn.evaluate(b => getComputedStyle(b).backgroundColor);
    assert(bg !== 'rgba(0, 0, 0, 0)' && bg !== 'rgb(0, 0, 238)', 'review button unstyled: ' + bg);
    await page.check('#confirm');
    assert(!(await btn.isDisabled()), 'review button still disabled after ticking');
    await btn.click();
    await page.locator('#review-dialog').waitFor();
    const d = await page.textContent('#review-dialog');
    for (const w of ['新增CET6资格复核申请', '姓名', '证件类型', '证件号码', '准考证号', cand.name, cand.id_number,
      '分数≥425', '2005年之前']) {
      assert(d.includes(w), 'review form lacks ' + w + ': ' + d);
    }
    await shot(page, 'P-07-review-form');
  }, { page, essential: true });

  await check('P step 7: a wrong ticket is refused in the form; the right one approves automatically', async () => {
    await page.fill('#ticket_number', '12345');
    await page.check('#review-confirm');
    await page.click('#review-submit');
    await expectNotice(page, 'error', '准考证号须为15位', 5000, '#review-dialog');
    /* a well-formed ticket of nobody: the server refuses (and the record is saved first) */
    const wrong = cand.ticket.slice(0, 13) + (cand.ticket.slice(13) === '99' ? '98' : '99');
    await page.fill('#ticket_number', wrong);
    await page.click('#review-submit');
    const t = await expectNotice(page, 'error', 'CET4', 10000, '#review-dialog');
    assert(t.includes('review_refused'), 'refusal: ' + t);
    await shot(page, 'P-07-review-refused');
  }, { page, essential: true });

  await check('P step 7: the refused review\'s dialog says the record was saved; its buttons are in view and 44 px', async () => {
    /* the record is saved before the review is sent, whatever the answer */
    await expectNotice(page, 'ok', '保存成功', 5000, '#review-dialog');
    await inView(page, '#review-submit');
    await tapTargets(page, 'review form');
  }, { page });

  await check('P step 7: the right ticket approves automatically: 英语六级笔试 and 英语六级口试 qualified', async () => {
    await page.fill('#ticket_number', cand.ticket);
    await page.click('#review-submit');
    await expectNotice(page, 'ok', '系统自动复核通过', 10000, '#review-dialog');
    await shot(page, 'P-07-review-approved');
    const me = await apiOk(page, 'GET', '/me');
    assert(me.bound && me.cet6_review === 'auto_approved', 'me: ' + JSON.stringify(me));
    const c = await apiOk(page, 'GET', '/candidate');
    const q = c.qualified_subjects.map(s => s.code);
    assert(q.includes('2') && q.includes('S'), 'qualified after approval: ' + q.join(','));
    await page.click('#review-close');
    await page.locator('#written-page').waitFor({ timeout: 10000 });
  }, { page, essential: true });

  await check('P step 9: the header shows the candidate\'s name; province and school announcements', async () => {
    const name = (await page.textContent('#userbar-name')).trim();
    assert(name !== '未设置' && name.startsWith(cand.name[0]), 'header name ' + name);
    const c = await apiOk(page, 'GET', '/candidate');
    if (c.announcements.province) assert((await page.textContent('#province-announcement')).includes(c.announcements.province.slice(0, 10)), 'province announcement');
    if (c.announcements.school) assert((await page.textContent('#school-announcement')).includes(c.announcements.school.slice(0, 10)), 'school announcement');
    await fitsWidth(page);
    await tapTargets(page, 'written page');
    await shot(page, 'P-09-written-page');
  }, { page });

  await check('P step 10: take English-4 and, after the approval, English-6 written', async () => {
    for (const code of ['1', '2']) {
      const row = page.locator('#offers tr[data-subject="' + code + '"]');
      assert(await row.count() === 1, 'no row for ' + code);
      await row.locator('button.register').click();
      await page.locator('#registered-dialog').waitFor({ timeout: 10000 });
      await page.click('#registered-ok');
      await page.locator('#reg-page').waitFor({ timeout: 10000 });
      if (code === '1') await gotoRoute(page, 'written');
    }
    const c = await apiOk(page, 'GET', '/candidate');
    assert(c.written.map(r => r.subject).sort().join() === '1,2', 'written: ' + c.written.map(r => r.subject));
  }, { page, essential: true });

  await check('P step 12: 口试报考 offers 英语六级口试 after the approval; take it', async () => {
    await gotoRoute(page, 'oral');
    const sec = page.locator('.oral-subject[data-subject="S"]');
    assert(!(await sec.locator('.notice-error').count()), 'S: ' + await sec.textContent());
    const btn = sec.locator('button.register');
    assert(await btn.count() === 1 && !(await btn.isDisabled()), 'no active 报考 for S');
    await fitsWidth(page);
    await shot(page, 'P-12-oral-page');
  }, { page, essential: true });

  await check('P step 12: the oral page\'s tap targets are 44 px; the campus choice shows its 剩余容量 uncut', async () => {
    await tapTargets(page, 'oral page');
    /* a phone cuts a long campus option off at its end: the campus and its 剩余容量 come first and fit */
    const sel = page.locator('select.campus-select');
    if (await sel.count()) {
      const fit = await sel.first().evaluate(el => {
        const t = el.options[el.selectedIndex].text;
        const head = t.slice(0, t.indexOf('）') + 1);
        const cv = document.createElement('canvas').getContext('2d');
        cv.font = getComputedStyle(el).font;
        return { t, head, w: cv.measureText(head).width, room: el.clientWidth - 32 };
      });
      assert(fit.head.includes('剩余容量') && fit.w <= fit.room, 'campus option cut before its capacity: ' + JSON.stringify(fit));
    }
  }, { page });

  await check('P step 13: take 英语六级口试', async () => {
    const btn = page.locator('.oral-subject[data-subject="S"] button.register');
    await btn.click();
    await page.locator('#registered-dialog').waitFor({ timeout: 10000 });
    await page.click('#registered-ok');
    await page.locator('#reg-page').waitFor({ timeout: 10000 });
  }, { page, essential: true });

  await check('P cancelling: a written subject without an oral does not warn; with one it does', async () => {
    await page.locator('#written-regs tr[data-subject="1"] button.cancel').click();
    await page.locator('#cancel-dialog').waitFor();
    let t = await page.textContent('#cancel-dialog');
    assert(!t.includes('同时取消'), 'English-4 has no oral, yet: ' + t);
    await inView(page, '#cancel-confirm');
    await tapTargets(page, 'cancel dialog');
    await shot(page, 'P-cancel-written-no-oral');
    await page.click('#cancel-back');
    await page.locator('#written-regs tr[data-subject="2"] button.cancel').click();
    await page.locator('#cancel-dialog').waitFor();
    t = await page.textContent('#cancel-dialog');
    assert(t.includes('同时取消') && t.includes('英语六级口试'), 'English-6 cancel does not warn about its oral: ' + t);
    await page.click('#cancel-back');
    assert((await apiOk(page, 'GET', '/candidate')).oral.length === 1, 'the oral went');
  }, { page });

  await check('P step 13: take 英语四级口试 too: four subjects to pay, as in the guide\'s step 15', async () => {
    await gotoRoute(page, 'oral');
    await page.locator('.oral-subject[data-subject="F"] button.register').click();
    await page.locator('#registered-dialog').waitFor({ timeout: 10000 });
    await page.click('#registered-ok');
    await page.locator('#reg-page').waitFor({ timeout: 10000 });
    const c = await apiOk(page, 'GET', '/candidate');
    assert(c.written.length + c.oral.length === 4, 'subjects: ' + [].concat(c.written, c.oral).map(r => r.subject).join(','));
  }, { page });

  await check('P steps 11, 14: the registration page has both tables, their status lines and 科目报考方式', async () => {
    await gotoRoute(page, 'registration');
    const c = await apiOk(page, 'GET', '/candidate');
    const ws = await page.textContent('#written-status');
    assert(ws.includes('全未支付') && ws.includes('¥' + (c.unpaid.written / 100).toFixed(2)), 'written status: ' + ws);
    const os = await page.textContent('#oral-status');
    assert(os.includes('全未支付') && os.includes('¥' + (c.unpaid.oral / 100).toFixed(2)), 'oral status: ' + os);
    assert((await page.textContent('#written-regs')).includes('考生注册'), 'no 科目报考方式');
    assert((await page.textContent('#oral-regs')).includes('英语六级口试'), 'oral table');
    assert((await page.textContent('#progress')).includes('存在未支付笔试科目'), 'progress line');
    assert((await page.textContent('#review-line')).includes('系统自动复核通过'), 'review state line');
    await fitsWidth(page);
    await tapTargets(page, 'registration page');
    /* the pay checkbox's label (box and row number) toggles it */
    const box = page.locator('#written-regs tr[data-subject="2"] input.paybox');
    await page.locator('#written-regs tr[data-subject="2"] label.paypick span').tap();
    assert(!(await box.isChecked()), 'tapping the row number beside the pay checkbox did not untick it');
    await page.locator('#written-regs tr[data-subject="2"] label.paypick span').tap();
    assert(await box.isChecked(), 'tapping again did not tick it');
    await shot(page, 'P-14-registration');
  }, { page });

  await check('P step 3 with unpaid subjects: home\'s 报名状态 says they are unpaid, not 已报名', async () => {
    await gotoRoute(page, 'home');
    const t = await page.textContent('#basic-info');
    const c = await apiOk(page, 'GET', '/candidate');
    assert(t.includes('有未支付科目') && t.includes((c.unpaid.total / 100).toFixed(2)) && !t.includes('已报名'), '报名状态: ' + t);
    await shot(page, 'P-03-home-unpaid');
  }, { page });

  await payAll(page, context, 'P');

  await check('P steps 7, 11: CET6资格复核 on 报名信息 shows the application (查看复核申请信息), approved', async () => {
    await gotoRoute(page, 'registration');
    await page.click('#review-open');
    await page.locator('#review-dialog').waitFor();
    const t = await page.textContent('#review-dialog');
    assert(t.includes('查看复核申请信息') && t.includes('准考证号'), 'dialog: ' + t);
    assert((await page.textContent('#review-state')).includes('系统自动复核通过'), 'state: ' + await page.textContent('#review-state'));
    assert(!(await page.locator('#review-submit').count()), 'an approved review can be sent again');
    await shot(page, 'P-review-view');
    await page.click('#review-close');
    await page.locator('#review-dialog').waitFor({ state: 'detached' });
    /* the same dialog through its own route */
    await gotoRoute(page, 'review');
    await page.locator('#review-dialog').waitFor({ timeout: 10000 });
    await page.click('#review-close');
    await page.waitForFunction(() => location.hash === '#/registration', null, { timeout: 10000 });
  }, { page });

  await check('P log out: 退出 ends the session and hides itself', async () => {
    await page.click('#logout');
    await page.locator('form #email').waitFor({ timeout: 10000 });
    assert(!(await page.evaluate(() => sessionStorage.getItem('cet.token'))), 'token still stored');
    assert(!(await page.isVisible('#logout')), '退出 still shown');
  }, { page });
  await context.close();
}

/* ---------------------------------------------------------------- L: the lookup-only phase */

/*
 * Guide step 8: before the registration window opens only the lookup works.
 * The pages come from the edge; their API calls go to the second cetd, whose
 * clock is 5 days back (run.sh --lookup-api).
 */
async function lookupPhaseWalk(browser, newPage) {
  const { context, page } = await newPage(PHONE, false);
  await page.route('**/api/v1/**', async route => {
    const u = new URL(route.request().url());
    const resp = await route.fetch({ url: opt.lookupApi + u.pathname + u.search });
    await route.fulfill({ response: resp });
  });
  const run = Date.now().toString(36);
  blockedBy = '';
  await accountAndAgreement(page, 'L', 'lookup-' + run + '@example.com', 'Passw0rd-' + run);
  await lookup(page, 'L', opt.phone, true);

  await check('L step 8: in the lookup-only phase nothing can be saved: the tick, 保存并继续 and CET6资格复核 are off, with the reason', async () => {
    const me = await apiOk(page, 'GET', '/me');
    assert(me.phase === 'lookup', 'the second cetd is in phase ' + me.phase);
    assert(await page.isDisabled('#confirm'), 'the confirmation can be ticked');
    await expectNotice(page, 'warn', '资格查询阶段');
    if (await page.locator('#review-open').count()) {
      assert(await page.isDisabled('#review-open'), 'CET6资格复核 active in the lookup phase');
      assert((await page.textContent('#review-reason')).includes('尚未到考生网上报名时间'), 'review reason');
    }
    const r = await pageApi(page, 'POST', '/candidate', { id_type: opt.phone.id_type, id_number: opt.phone.id_number, name: opt.phone.name, confirmed: true });
    assert(r.status === 409 && r.body.error.code === 'window_closed', 'the server would bind: ' + JSON.stringify(r.body));
    await shot(page, 'L-08-lookup-only');
  }, { page });

  await check('L step 8: the same account looks up a second person', async () => {
    await page.click('button:has-text("重新查询")');
    await page.locator('#id_type').waitFor();
    await page.selectOption('#id_type', opt.candidate.id_type);
    await page.fill('#id_number', opt.candidate.id_number);
    await page.fill('#name', opt.candidate.name);
    await page.click('#query');
    await page.click('#query-ok-button');
    await page.locator('#confirmation').waitFor();
    assert((await page.textContent('#person')).includes(opt.candidate.name), 'second person not shown');
    await gotoRoute(page, 'home');
    assert((await page.textContent('#basic-info')).includes('资格查询阶段'), 'home phase: ' + await page.textContent('#basic-info'));
  }, { page });
  await context.close();
}

/* ---------------------------------------------------------------- D: the desk */

async function offers(page, kind) {
  return (await apiOk(page, 'GET', '/offers?kind=' + kind)).offers.map(o => ({
    subject: o.subject, campus: o.campus.code, seats: o.seats, fee: o.fee, raw: o }));
}

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
  const cap = async () => (await call('POST', '/captcha', {})).captcha_id;
  await call('POST', '/accounts', { email, password, captcha_id: await cap(), captcha_answer: '00000' });
  const s = await call('POST', '/sessions', { email, password, captcha_id: await cap(), captcha_answer: '00000' });
  await call('POST', '/agreement', {}, s.token);
  await call('POST', '/candidate', { id_type: cand.id_type, id_number: cand.id_number, name: cand.name, confirmed: true }, s.token);
  const w = (await call('GET', '/offers?kind=written', undefined, s.token)).offers.find(o => o.subject === '1');
  if (!w) throw new Error('filler ' + cand.name + ' has no English-4 offer');
  await call('POST', '/registrations', { subject: '1', campus: w.campus.code }, s.token);
  await call('POST', '/registrations', { subject: target.subject, campus: target.campus }, s.token);
}

async function deskWalk(browser, newPage) {
  const { context, page } = await newPage(DESK);
  const cand = opt.candidate;
  const run = Date.now().toString(36);
  blockedBy = '';
  await accountAndAgreement(page, 'D', 'desk-' + run + '@example.com', 'Passw0rd-' + run);
  await lookup(page, 'D', cand);

  await check('D step 8: 保存并继续, 提示 保存成功, then 笔试报考', async () => {
    await page.check('#confirm');
    assert(!(await page.isDisabled('#bind')), 'bind still disabled');
    await page.click('#bind');
    await page.locator('.dialog', { hasText: '保存成功' }).waitFor({ timeout: 10000 });
    await shot(page, 'D-08-saved');
    await page.click('#saved-ok');
    await page.locator('#written-page').waitFor({ timeout: 10000 });
    const name = (await page.textContent('#userbar-name')).trim();
    assert(name !== '未设置' && name.startsWith(cand.name[0]), 'header name ' + name);
  }, { page, essential: true });

  await check('D step 8: a bound candidate with no subjects is told of the deletion after 24 hours', async () => {
    await gotoRoute(page, 'registration');
    const c = await apiOk(page, 'GET', '/candidate');
    assert(c.delete_at, 'no delete_at from the API');
    const t = await expectNotice(page, 'warn', '自动删除');
    assert(t.includes(c.delete_at.slice(0, 10)) && t.includes(c.delete_at.slice(11, 16)), 'deletion time not shown: ' + t);
    assert(await page.isDisabled('#add-oral'), '口试报考 active before any written subject');
    assert((await reasonOf(page.locator('#add-oral'))).includes('必须先完成笔试'), 'no reason beside 口试报考');
    await shot(page, 'D-08-registration-empty');
  }, { page });

  await check('D step 3 bound without subjects: home\'s 报名状态 does not say 已报名', async () => {
    await gotoRoute(page, 'home');
    const t = await page.textContent('#basic-info');
    assert(t.includes('尚未报考任何科目') && !t.includes('已报名'), '报名状态: ' + t);
  }, { page });

  await check('D step 12 before 10: every oral 报考 is disabled with its reason (oral_needs_written)', async () => {
    await gotoRoute(page, 'oral');
    const btns = page.locator('.oral-subject[data-subject="F"] button.register');
    assert(await btns.count() === 1, 'F section has ' + await btns.count() + ' buttons');
    assert(await btns.first().isDisabled(), 'F 报考 active before English-4 written');
    assert((await reasonOf(btns.first())).includes('必须先完成英语四级笔试'), 'reason: ' + await reasonOf(btns.first()));
    const r = await pageApi(page, 'POST', '/registrations', { subject: 'F', campus: (await offers(page, 'oral')).find(o => o.subject === 'F').campus });
    assert(r.status === 409 && r.body.error.code === 'oral_needs_written', 'the server would take it: ' + JSON.stringify(r.body));
    await shot(page, 'D-12-oral-before-written');
  }, { page });

  let written = [];
  await check('D step 10: 笔试报考 shows 报名学校, 报名校区, 剩余容量; take English-4', async () => {
    await gotoRoute(page, 'written');
    written = await offers(page, 'written');
    const heads = await page.locator('#offers table thead').first().textContent();
    for (const w of ['科目', '费用(元)', '报名学校', '报名校区', '剩余容量', '报名时间']) assert(heads.includes(w), 'no column ' + w);
    const row = page.locator('#offers tr[data-subject="1"]');
    const o = written.find(x => x.subject === '1');
    const t = await row.textContent();
    assert(t.includes(o.raw.school.name) && t.includes(o.raw.campus.name) && t.includes((o.fee / 100).toFixed(2)), 'row: ' + t);
    await wrapCheckSees(page);
    await noWraps(page, 'written offers');
    await shot(page, 'D-10-written-page');
    await row.locator('button.register').click();
    await page.locator('#registered-dialog').waitFor({ timeout: 10000 });
    await shot(page, 'D-10-written-saved');
    await page.click('#registered-ok');
    await page.locator('#reg-page').waitFor({ timeout: 10000 });
  }, { page, essential: true });

  await check('D step 10: after English-4, the other level-4 subjects are disabled with the one-per-level reason', async () => {
    await gotoRoute(page, 'written');
    const others = written.filter(o => ['3', '5', '7', '9'].includes(o.subject));
    assert(others.length, 'the desk candidate has no other level-4 subject offered');
    for (const o of others) {
      const btn = page.locator('#offers tr[data-subject="' + o.subject + '"] button.register');
      assert(await btn.isDisabled(), o.subject + ' still active');
      assert((await reasonOf(btn)).includes('同级别笔试科目仅能报考一科'), 'reason: ' + await reasonOf(btn));
      const r = await pageApi(page, 'POST', '/registrations', { subject: o.subject, campus: o.campus });
      assert(r.status === 409 && r.body.error.code === 'one_per_level', 'the server says ' + JSON.stringify(r.body));
    }
    assert((await page.locator('#offers tr[data-subject="1"]').textContent()).includes('已报考'), 'English-4 not marked 已报考');
    await noWraps(page, 'written offers with a one-per-level reason');
    await shot(page, 'D-10-one-per-level');
  }, { page });

  let oral = [], target = null;
  await check('D step 12: 口试报考: the province announcement, a campus choice that loads its school announcement', async () => {
    await gotoRoute(page, 'oral');
    const c = await apiOk(page, 'GET', '/candidate');
    if (c.announcements.province) assert((await page.textContent('#province-announcement')).length > 0, 'no province announcement');
    oral = await offers(page, 'oral');
    const fs_ = oral.filter(o => o.subject === 'F');
    const sel = page.locator('#campus-F');
    assert(fs_.length >= 2 && await sel.count() === 1, 'no campus choice for F (' + fs_.length + ' campuses)');
    const other = fs_.find(o => String(o.campus) !== String(c.candidate.campus.code) && o.raw.school_announcement) || fs_.find(o => String(o.campus) !== String(c.candidate.campus.code));
    await sel.selectOption(String(other.campus));
    const row = page.locator('.oral-subject[data-subject="F"] table tr[data-campus="' + other.campus + '"]');
    await row.waitFor();
    if (other.raw.school_announcement) {
      const a = await page.locator('.oral-subject[data-subject="F"] .school-announcement').textContent();
      assert(a.includes(other.raw.school_announcement.slice(0, 8)), 'school announcement of the chosen campus not shown');
    }
    const sec = page.locator('.oral-subject[data-subject="S"]');
    if (!c.qualified_subjects.some(s => s.code === 'S')) {
      assert((await sec.textContent()).includes('不具有CET六级口试报考资格'), 'S section');
      if (c.cet6_review_offered || c.cet6_review) {
        assert(await sec.locator('a#to-review[href="#/review"]').count() === 1, 'S section does not point at the CET6 review: ' + await sec.textContent());
      }
    }
    await noWraps(page, 'oral offers');
    await shot(page, 'D-12-oral-campus-chosen');
    const [gs, gc] = opt.seatGone.split('@');
    target = oral.find(x => x.subject === gs && String(x.campus) === gc && x.seats !== 'none') || fs_.find(o => o.seats !== 'none');
  }, { page });

  if (opt.fillers.length) {
    await check('D step 13: a seat taken meanwhile by others is refused beside the button (seats_full), then 无 and disabled', async () => {
      if (!target) {
        const [gs, gc] = opt.seatGone.split('@');
        target = (await offers(page, 'oral')).find(x => x.subject === gs && String(x.campus) === gc && x.seats !== 'none');
      }
      assert(target, 'no oral offer with seats to fill');
      await gotoRoute(page, 'oral');
      if (await page.locator('#campus-F').count()) {
        await page.locator('#campus-F').selectOption(String(target.campus));
      }
      const btn = page.locator('.oral-subject[data-subject="F"] tr[data-campus="' + target.campus + '"] button.register');
      await btn.waitFor();
      assert(!(await btn.isDisabled()), 'the offer is not selectable');
      let filled = false, used = 0;
      for (const f of opt.fillers) {
        used++;
        await fillerTakesSeat(context, f, run + '-' + used, target);
        const now = (await offers(page, 'oral')).find(o => o.subject === target.subject && String(o.campus) === String(target.campus));
        if (!now || now.seats === 'none') { filled = true; break; }
      }
      assert(filled, 'the offer still has seats after ' + used + ' other candidates');
      await btn.click();
      const t = await expectNotice(page, 'error', '考位已满', 10000, '.oral-subject[data-subject="F"] td.action');
      assert(t.includes('seats_full'), t);
      assert(await btn.isDisabled(), 'the refused button is active again');
      assert((await page.locator('.oral-subject[data-subject="F"] tr[data-campus="' + target.campus + '"] .badge').first().textContent()).includes('无'),
        'the refused offer is not shown as 无 at once');
      await shot(page, 'D-13-refused-seats-full');
      await gotoRoute(page, 'oral');
      await page.locator('#campus-F').selectOption(String(target.campus));
      const row = page.locator('.oral-subject[data-subject="F"] tr[data-campus="' + target.campus + '"]');
      assert((await row.locator('.badge').first().textContent()).includes('无'), 'full offer not shown as 无');
      const b2 = row.locator('button.register');
      assert(await b2.isDisabled() && (await reasonOf(b2)).includes('已报满'), 'full offer still selectable');
    }, { page });
  }

  let chosen = null;
  await check('D step 13: take English-4 oral where seats remain; only that campus is 已报考', async () => {
    await gotoRoute(page, 'oral');
    oral = await offers(page, 'oral');
    chosen = oral.find(o => o.subject === 'F' && o.seats !== 'none');
    assert(chosen, 'no F offer with seats');
    await page.locator('#campus-F').selectOption(String(chosen.campus));
    await page.locator('.oral-subject[data-subject="F"] tr[data-campus="' + chosen.campus + '"] button.register').click();
    await page.locator('#registered-dialog').waitFor({ timeout: 10000 });
    await page.click('#registered-ok');
    await page.locator('#reg-page').waitFor({ timeout: 10000 });
    await gotoRoute(page, 'oral');
    const rows = page.locator('.oral-subject[data-subject="F"] tbody tr');
    assert(await rows.count() === 1, (await rows.count()) + ' campuses shown for the registered F');
    assert((await rows.first().getAttribute('data-campus')) === String(chosen.campus), 'another campus marked');
    assert((await rows.first().textContent()).includes('已报考'), 'not 已报考');
    await shot(page, 'D-14-oral-registered');
  }, { page, essential: true });

  await check('D step 14-15: the registration page: two tables, totals, status lines, nothing wraps', async () => {
    await gotoRoute(page, 'registration');
    const c = await apiOk(page, 'GET', '/candidate');
    const ws = await page.textContent('#written-status'), os = await page.textContent('#oral-status');
    assert(ws.includes('全未支付') && ws.includes('¥' + (c.unpaid.written / 100).toFixed(2)), 'written status ' + ws);
    assert(os.includes('全未支付') && os.includes('¥' + (c.unpaid.oral / 100).toFixed(2)), 'oral status ' + os);
    const heads = await page.locator('#written-regs thead').textContent();
    for (const w of ['科目', '费用(元)', '支付状态', '编排状态', '科目报考方式', '报名学校', '报名校区']) assert(heads.includes(w), 'no column ' + w);
    assert((await page.textContent('#oral-regs')).includes(String(chosen.campus)), 'oral campus');
    await noWraps(page, 'registration tables');
    await shot(page, 'D-14-registration');
  }, { page });

  await check('D cancelling: English-4 written warns that its oral goes too; the oral alone does not', async () => {
    await page.locator('#written-regs tr[data-subject="1"] button.cancel').click();
    await page.locator('#cancel-dialog').waitFor();
    const t = await page.textContent('#cancel-dialog');
    assert(t.includes('同时取消') && t.includes('英语四级口试'), 'no warning: ' + t);
    await shot(page, 'D-cancel-written-with-oral');
    await page.click('#cancel-back');
    await page.locator('#oral-regs tr[data-subject="F"] button.cancel').click();
    await page.locator('#cancel-dialog').waitFor();
    assert(!(await page.textContent('#cancel-dialog')).includes('同时取消'), 'the oral warns about an oral');
    await page.click('#cancel-back');
  }, { page });

  await check('D cancelling the oral for real: 已取消报考 is said on 报名信息, the row goes; it is taken again', async () => {
    await gotoRoute(page, 'registration');
    await page.locator('#oral-regs tr[data-subject="F"] button.cancel').click();
    await page.locator('#cancel-dialog').waitFor();
    const before = await page.getAttribute('#app', 'data-render');
    await page.click('#cancel-confirm');
    await page.waitForFunction(b => document.querySelector('#app').getAttribute('data-render') !== b, before, { timeout: 15000 });
    const t = await expectNotice(page, 'ok', '已取消报考', 10000, '#flash');
    assert(t.includes('英语四级口试'), 'flash: ' + t);
    assert(!(await page.locator('#oral-regs tr[data-subject="F"]').count()), 'the cancelled oral is still listed');
    assert(!(await apiOk(page, 'GET', '/candidate')).oral.length, 'the API still has the oral');
    await shot(page, 'D-cancelled-oral');
    await gotoRoute(page, 'registration');
    assert(!(await page.locator('#flash').count()), 'the cancellation message shows again on the next visit');
    await gotoRoute(page, 'oral');
    await page.locator('#campus-F').selectOption(String(chosen.campus));
    await page.locator('.oral-subject[data-subject="F"] tr[data-campus="' + chosen.campus + '"] button.register').click();
    await page.locator('#registered-dialog').waitFor({ timeout: 10000 });
    await page.click('#registered-ok');
    await page.locator('#reg-page').waitFor({ timeout: 10000 });
    assert((await apiOk(page, 'GET', '/candidate')).oral.length === 1, 'F not taken again');
  }, { page });

  await check('D step 15: an oral without its unpaid written cannot be paid: 支付 disabled with the reason', async () => {
    await page.locator('#written-regs input.paybox').uncheck();
    assert(await page.isDisabled('#pay'), '支付 active with the oral alone');
    const why = await reasonOf(page.locator('#pay'));
    assert(why.includes('须与') && why.includes('英语四级笔试'), 'reason: ' + why);
    await shot(page, 'D-15-oral-alone-disabled');
    const r = await pageApi(page, 'POST', '/payments', { subjects: ['F'], channel: 'alipay' });
    assert(r.status === 409 && r.body.error.code === 'oral_needs_written', 'the server says ' + JSON.stringify(r.body));
    await page.locator('#written-regs input.paybox').check();
    assert(!(await page.isDisabled('#pay')), '支付 still disabled');
  }, { page });

  await check('D steps 15-16: an order left on the platform unpaid waits with 继续支付; its oral meanwhile says why it cannot be paid', async () => {
    await gotoRoute(page, 'registration');
    await page.locator('#oral-regs input.paybox').uncheck();
    await page.click('#pay');
    await page.click('#pay-go');
    await page.click('#pay-confirm');
    await page.waitForURL(u => !String(u).startsWith(opt.base), { timeout: 15000 });
    await page.waitForLoadState('load');
    await page.goBack(); /* the candidate leaves the platform without paying */
    await page.locator('#pay-resume').waitFor({ timeout: 15000 });
    const note = await page.textContent('#pay-pending-note');
    assert(note.includes('继续支付') && note.includes('自动关闭'), 'pending note: ' + note);
    const head = (await page.textContent('#userbar-name')).trim();
    assert(head !== '未设置', 'header after coming back: ' + head);
    await shot(page, 'D-16-order-pending-resume');
    await gotoRoute(page, 'registration');
    const t = await page.textContent('#written-regs tr[data-subject="1"]');
    assert(t.includes('支付处理中'), 'written row: ' + t);
    assert(await page.isDisabled('#pay-oral'), 'the oral can be paid alone while its written is in an order');
    const why = await reasonOf(page.locator('#pay-oral'));
    assert(why.includes('支付订单正在处理中') && !why.includes('请同时勾选'), 'reason beside the oral 支付: ' + why);
    const r = await pageApi(page, 'POST', '/payments', { subjects: ['F'], channel: 'alipay' });
    assert(r.status === 409 && r.body.error.code === 'oral_needs_written', 'the server says ' + JSON.stringify(r.body));
    await noWraps(page, 'registration with a pending order');
    await shot(page, 'D-16-oral-waits-for-written');
    /* back to the order: 继续支付 reopens the platform, which pays it */
    await page.click('#pending-order a');
    await page.locator('#pay-resume').waitFor({ timeout: 15000 });
    await page.click('#pay-resume');
    await page.waitForURL(u => !String(u).startsWith(opt.base), { timeout: 15000 });
    await page.locator('#confirm').waitFor({ timeout: 10000 });
    await page.click('#confirm');
    await page.locator('#result').waitFor({ timeout: 10000 });
    await page.click('a#back');
    await expectNotice(page, 'ok', '支付成功', 20000);
    assert(!(await page.locator('#pay-resume').count()), '继续支付 after the order is paid');
  }, { page });

  await payAll(page, context, 'D');

  await check('D desk: the paid registration page still wraps no amount, date or subject', async () => {
    await gotoRoute(page, 'registration');
    await noWraps(page, 'paid registration');
  }, { page });

  await check('D a reload of a page that does not load /me itself (#/agreement) keeps the header', async () => {
    await gotoRoute(page, 'agreement');
    await page.reload();
    await page.locator('#agree').waitFor({ timeout: 10000 });
    await page.waitForFunction(() => document.querySelector('#userbar-sitting').textContent.trim() !== '—', null, { timeout: 10000 })
      .catch(() => {});
    const name = (await page.textContent('#userbar-name')).trim();
    assert(name !== '未设置' && name.startsWith(cand.name[0]), 'header name after a reload: ' + name);
  }, { page });

  await check('D step 3 once bound: home says 已报名 and leads to 报名信息', async () => {
    await gotoRoute(page, 'home');
    assert((await page.textContent('#basic-info')).includes('已报名'), 'status: ' + await page.textContent('#basic-info'));
    assert((await page.textContent('#start')).includes('查看报名信息'), 'button: ' + await page.textContent('#start'));
  }, { page });

  await check('D log out', async () => {
    await page.click('#logout');
    await page.locator('form #email').waitFor({ timeout: 10000 });
    assert(!(await page.isVisible('#logout')), '退出 still shown');
    await shot(page, 'D-logged-out');
  }, { page });
  await context.close();
}

/* The wrap check itself must see a wrap: a narrow table whose cells may wrap.
 * (Built through the CSSOM: the edge's CSP refuses style attributes.) */
async function wrapCheckSees(page) {
  const r = await page.evaluate('(' + (function (wrapsIn) {
    const el = (tag, css, text) => {
      const e = document.createElement(tag);
      Object.assign(e.style, css);
      if (text) e.textContent = text;
      return e;
    };
    const box = el('div', { position: 'absolute', left: '0', top: '0', width: '150px' });
    const table = el('table', { tableLayout: 'fixed', width: '150px' });
    const tr = table.insertRow();
    const subj = el('td', { whiteSpace: 'normal', width: '50px' }, '(1) 英语四级笔试');
    subj.className = 'subj';
    const money = el('td', { width: '50px' });
    money.appendChild(el('span', { whiteSpace: 'normal' }, '12345678.00 12345678.00')).className = 'money';
    const date = el('td', { width: '50px' });
    date.appendChild(el('span', { whiteSpace: 'normal' }, '2026-12-01 04:29')).className = 'date';
    tr.append(subj, money, date);
    box.appendChild(table);
    document.body.appendChild(box);
    const found = wrapsIn(box);
    box.remove();
    return found;
  }).toString() + ')(' + wrapsIn.toString() + ')');
  assert(r.bad.length === 3, 'the wrap check misses wrapped cells: ' + JSON.stringify(r));
}

/* Every error.code of engine/cet_err.h (or base/, where it may move) has Chinese text in app.js. */
function errorTextsCovered() {
  const repo = path.join(__dirname, '..', '..');
  const hdr = ['engine/cet_err.h', 'base/cet_err.h'].map(f => path.join(repo, f)).find(f => fs.existsSync(f));
  assert(hdr, 'no cet_err.h');
  const codes = [...fs.readFileSync(hdr, 'utf8').matchAll(/X\(\w+,\s*"([a-z_]+)"/g)].map(m => m[1]);
  assert(codes.length > 30, 'only ' + codes.length + ' codes read from ' + hdr);
  const js = fs.readFileSync(path.join(repo, 'tools/www/assets/app.js'), 'utf8');
  const block = js.slice(js.indexOf('var ERROR_TEXT = {'), js.indexOf('};', js.indexOf('var ERROR_TEXT = {')));
  const missing = codes.filter(c => !new RegExp('\\n\\s+' + c + ": '[^']*[\\u4e00-\\u9fa5]").test(block));
  assert(!missing.length, 'no Chinese text for: ' + missing.join(', '));
  return codes.length;
}

async function main() {
  const browser = await chromium.launch({
    executablePath: opt.chromium,
    headless: !opt.headed,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
  });
  const protocols = new Map();
  const newPage = async (viewport, watchProtocols = true) => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'zh-CN', viewport,
      timezoneId: 'Asia/Shanghai', isMobile: viewport.width < 500, hasTouch: viewport.width < 500 });
    const page = await context.newPage();
    page.on('dialog', d => { log('  unexpected window dialog: ' + d.message()); d.dismiss(); });
    page.on('pageerror', e => log('  page error: ' + e.message));
    if (watchProtocols) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      cdp.on('Network.responseReceived', ev => {
        if (ev.response.url.startsWith(opt.base)) protocols.set(ev.response.url, ev.response.protocol);
      });
    }
    return { context, page };
  };

  await check('every error code of cet_err.h has its Chinese text in the pages', async () => {
    log('     ' + errorTextsCovered() + ' codes');
  });
  await phoneWalk(browser, newPage);
  await deskWalk(browser, newPage);
  blockedBy = '';
  if (opt.lookupApi) await lookupPhaseWalk(browser, newPage);
  else log('SKIP the lookup-only phase walk (no --lookup-api)');
  blockedBy = '';

  await check('every page and API answer came over HTTP/2', async () => {
    const seen = [...protocols.entries()];
    assert(seen.length > 5, 'only ' + seen.length + ' responses seen');
    const other = seen.filter(([u, p]) => p !== 'h2' && !u.endsWith('/api/v1/payments'));
    assert(!other.length, 'not h2: ' + other.slice(0, 5).map(([u, p]) => p + ' ' + u).join(', '));
    log('     ' + seen.length + ' distinct URLs, all h2');
  });

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
