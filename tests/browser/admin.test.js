#!/usr/bin/env node
/*
 * admin.test.js: headless Chromium (playwright-core, Debian's chromium) walks the
 * staff pages in tools/www/admin over the h2o edge to a real cetd, as a teacher at a
 * 1366x768 desk (and once on a 390x844 phone): logs in; approves the pending CET6
 * review (a candidate made through the API first); a roster dry run that lists the
 * errors by line and applies nothing; a good GBK file checked, then applied; a
 * capacity changed; an announcement posted (and read on the candidate's API page);
 * exports downloaded (CSV with its BOM, .xlsx); the audit chain verified in the page.
 * Every step leaves a screenshot in --artifacts (NN-<step>.png).
 *
 * Started by run_admin.sh:
 *   node admin.test.js --base https://127.0.0.1:PORT --artifacts DIR --work DIR \
 *     --review '{"id_type":..,"id_number":..,"name":..,"ticket":..}'
 * Prints one line per check and "browser test: N passed, N failed" last.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');
const { harness, launch } = require('./harness');

function parseArgs(argv) {
  const o = { base: '', artifacts: 'artifacts', work: '.', review: null, chromium: '/usr/bin/chromium' };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    switch (a) {
      case '--base': o.base = v.replace(/\/+$/, ''); i++; break;
      case '--artifacts': o.artifacts = v; i++; break;
      case '--work': o.work = v; i++; break;
      case '--review': o.review = JSON.parse(v); i++; break;
      case '--chromium': o.chromium = v; i++; break;
      default: throw new Error('unknown argument ' + a);
    }
  }
  if (!o.base || !o.review) throw new Error('--base and --review are required');
  return o;
}
const opt = parseArgs(process.argv);
fs.mkdirSync(opt.artifacts, { recursive: true });
const DESK = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };
const TEACHER = 'teacher10013', PASSWORD = 'demo-Staff-2026';

const { log, assert, shot, check, unblock, run } = harness(opt.artifacts);

/* ---- the candidate whose review the teacher decides, through the API ---- */
async function makePendingReview(request) {
  const email = 'adm' + Date.now() + '@browser.test', password = 'browser-Pass-2026';
  const post = async (p, body, token) => {
    const r = await request.post(opt.base + '/api/v1' + p, { data: body,
      headers: token ? { Authorization: 'Bearer ' + token } : {} });
    const j = await r.json().catch(() => null);
    assert(r.status() < 300, p + ': ' + r.status() + ' ' + JSON.stringify(j));
    return j;
  };
  await post('/accounts', { email, password, captcha_id: 'x', captcha_answer: 'x' });
  const tok = (await post('/sessions', { email, password, captcha_id: 'x', captcha_answer: 'x' })).token;
  await post('/agreement', undefined, tok);
  const rv = opt.review;
  await post('/candidate', { id_type: rv.id_type, id_number: rv.id_number, name: rv.name, confirmed: true }, tok);
  const r = await post('/cet6-review', { ticket_number: rv.ticket, confirmed: true }, tok);
  assert(r.state === 'pending', 'review state ' + r.state);
  /* a registration for the teacher's group payment (and a live seat under the capacity) */
  await post('/registrations', { subject: '1', campus: '100130' }, tok);
  return tok;
}

async function login(page, user = TEACHER, ready = '#phase') {
  await page.goto(opt.base + '/admin/');
  await page.waitForSelector('#login-form');
  await page.fill('#user', user);
  await page.fill('#password', PASSWORD);
  await page.fill('#captcha_answer', 'x');
  await page.click('#login');
  await page.waitForSelector(ready, { timeout: 15000 });
}

async function navTo(page, view, ready) {
  await page.click('#nav a[data-view="' + view + '"]');
  await page.waitForSelector(ready, { timeout: 15000 });
}

async function okMsg(page, root, text) {
  const loc = page.locator(root + ' .msg-ok', { hasText: text });
  await loc.first().waitFor({ state: 'visible', timeout: 15000 });
  return (await loc.first().textContent()).trim();
}

async function deskWalk(browser, candToken) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'zh-CN', viewport: DESK,
    timezoneId: 'Asia/Shanghai', acceptDownloads: true });
  const page = await context.newPage();
  page.on('dialog', d => d.accept());
  page.on('pageerror', e => log('  page error: ' + e.message));

  await check('the teacher logs in (user, password, captcha) and sees the dashboard', async () => {
    await page.goto(opt.base + '/admin/');
    await page.waitForSelector('#login-form img[src^="data:"]', { timeout: 15000 });
    await shot(page, 'desk-login');
    await login(page);
    const who = await page.textContent('#who-name');
    assert(who.includes(TEACHER) && who.includes('10013'), 'who: ' + who);
    const pending = await page.textContent('#pending-count');
    assert(Number(pending) >= 1, 'pending reviews on the dashboard: ' + pending);
    await shot(page, 'desk-dashboard');
  }, { page, essential: true });

  await check('the pending CET6 review shows the candidate and the ticket; approved', async () => {
    await navTo(page, 'reviews', '#reviews');
    const row = page.locator('#reviews tr', { hasText: opt.review.id_number });
    await row.waitFor();
    const text = await row.textContent();
    assert(text.includes(opt.review.name) && text.includes(opt.review.ticket), 'row: ' + text);
    assert(text.includes('证件号不一致'), 'the score check is shown: ' + text);
    await shot(page, 'desk-reviews');
    await row.locator('button', { hasText: '通过' }).first().click();
    await okMsg(page, '#app', '已通过');
    await shot(page, 'desk-review-approved');
  }, { page });

  await check('roster dry run: the errors by line, nothing applied, import stays disabled', async () => {
    await navTo(page, 'roster', '#roster-file');
    await page.setInputFiles('#roster-file', path.join(opt.work, 'roster-bad.csv'));
    await page.click('#roster-check');
    await page.waitForSelector('#roster-errors', { timeout: 15000 });
    const rows = await page.locator('#roster-errors tbody tr').allTextContents();
    assert(rows.length === 2, 'error rows: ' + rows.join(' | '));
    assert(rows[0].startsWith('2') && rows[0].includes('id_check_digit'), 'line 2: ' + rows[0]);
    assert(rows[1].startsWith('3') && rows[1].includes('education'), 'line 3: ' + rows[1]);
    assert(await page.isDisabled('#roster-apply'), 'import enabled after a failed check');
    await shot(page, 'desk-roster-dry-run-errors');
  }, { page });

  await check('a good GBK roster: checked (dry run counts), then applied', async () => {
    await page.setInputFiles('#roster-file', path.join(opt.work, 'roster-good.csv'));
    await page.click('#roster-check');
    const t = await okMsg(page, '#roster-result', '检查通过');
    assert(t.includes('新增 3'), t);
    await shot(page, 'desk-roster-checked');
    await page.click('#roster-apply');
    const t2 = await okMsg(page, '#roster-result', '导入完成');
    assert(t2.includes('新增 3'), t2);
    await shot(page, 'desk-roster-applied');
  }, { page });

  await check('a capacity changed on the settings page (and never below live)', async () => {
    await navTo(page, 'offers', '#offers');
    const row = page.locator('#offers tr[data-offer="100130/1"]');
    await row.waitFor();
    const live = Number((await row.locator('td').nth(2).textContent()).trim());
    const cap = row.locator('input[type=number]').first();
    if (live > 0) {
      await cap.fill(String(live - 1));
      await row.locator('button').click();
      await page.locator('#offers-result .msg-error', { hasText: '容量不能低于已报名人数' }).waitFor();
    }
    await cap.fill(String(live + 250));
    await row.locator('button').click();
    const t = await okMsg(page, '#offers-result', '已保存');
    assert(t.includes('容量 ' + (live + 250)), t);
    await shot(page, 'desk-offers');
  }, { page });

  const annTitle = '缴费提醒' + Date.now() % 10000;
  await check('an announcement posted; the candidate\'s page has it', async () => {
    await navTo(page, 'announcements', '#ann-title');
    await page.fill('#ann-title', annTitle);
    await page.fill('#ann-body', '请于报名截止前完成缴费，逾期报名作废。');
    await page.click('#ann-post');
    await page.locator('.ann', { hasText: annTitle }).waitFor({ timeout: 15000 });
    await shot(page, 'desk-announcements');
    const r = await context.request.get(opt.base + '/api/v1/candidate', { headers: { Authorization: 'Bearer ' + candToken } });
    const j = await r.json();
    assert(String(j.announcements && j.announcements.school).includes('逾期报名作废'), 'candidate page: ' + JSON.stringify(j.announcements));
  }, { page });

  await check('group payment: choose the candidate, lock, record the payment', async () => {
    await navTo(page, 'group', '#group');
    let row = page.locator('#group tbody tr', { hasText: opt.review.id_number });
    await row.waitFor();
    assert((await row.textContent()).includes('未缴费'), 'unpaid first: ' + await row.textContent());
    await row.locator('input[type=checkbox]').check();
    await shot(page, 'desk-group-chosen');
    await page.click('#group-lock');
    await okMsg(page, '#group-result', '已锁定 1 项');
    await page.locator('#group tbody tr', { hasText: '已锁定' }).first().waitFor({ timeout: 15000 });
    row = page.locator('#group tbody tr', { hasText: opt.review.id_number });
    await shot(page, 'desk-group-locked');
    await row.locator('input[type=checkbox]').check();
    await page.click('#group-pay');
    await okMsg(page, '#group-result', '已记录缴费 1 项');
    await page.waitForFunction(id => !Array.from(document.querySelectorAll('#group tbody tr'))
      .some(tr => tr.textContent.includes(id)), opt.review.id_number, { timeout: 15000 });
    const t = await page.textContent('#app');
    assert(/已缴费 [1-9]/.test(t), 'paid count: ' + t.slice(0, 200));
    await shot(page, 'desk-group-paid');
  }, { page });

  await check('exports download: CSV with its BOM, .xlsx a workbook', async () => {
    await navTo(page, 'exports', '#export-candidates-csv');
    for (const [id, magic] of [['#export-candidates-csv', 'efbbbf'], ['#export-registrations-xlsx', '504b0304']]) {
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click(id)]);
      const file = path.join(opt.artifacts, dl.suggestedFilename());
      await dl.saveAs(file);
      const head = fs.readFileSync(file).subarray(0, magic.length / 2).toString('hex');
      assert(head === magic, id + ': starts with ' + head);
      if (id.endsWith('csv')) {
        const text = fs.readFileSync(file, 'utf8');
        assert(text.includes(opt.review.id_number), 'the reviewed candidate is in the CSV');
      }
    }
    await okMsg(page, '#export-result', '已下载');
    await shot(page, 'desk-exports');
  }, { page });

  await check('the audit log: the chain verifies in the page, the teacher\'s actions listed', async () => {
    await navTo(page, 'audit', '#audit');
    await okMsg(page, '#audit-verify', '哈希链校验通过');
    const text = await page.textContent('#audit');
    for (const a of ['六级资格审核', '导入学籍名单', '修改考点设置', '发布公告'])
      assert(text.includes(a), 'audit lacks ' + a);
    await shot(page, 'desk-audit');
  }, { page });

  await check('no table cell on the dashboard wraps a number at 1366 px', async () => {
    await navTo(page, 'dashboard', '#phase');
    const wrapped = await page.evaluate(() => Array.from(document.querySelectorAll('td.n')).filter(td => {
      const lh = parseFloat(getComputedStyle(td).lineHeight) || 20;
      return td.clientHeight > lh * 2.2;
    }).length);
    assert(wrapped === 0, wrapped + ' numeric cells wrap');
  }, { page });
  await context.close();
}

async function phoneWalk(browser) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'zh-CN', viewport: PHONE,
    timezoneId: 'Asia/Shanghai', isMobile: true, hasTouch: true });
  const page = await context.newPage();
  page.on('dialog', d => d.accept());
  await check('on a phone: login, dashboard and reviews are usable', async () => {
    await login(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, 'the page is ' + overflow + ' px wider than the phone');
    await shot(page, 'phone-dashboard');
    await navTo(page, 'roster', '#roster-file');
    await shot(page, 'phone-roster');
  }, { page });
  await context.close();
}

async function provinceWalk(browser, candToken) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'zh-CN', viewport: DESK,
    timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  page.on('dialog', d => d.accept());
  await check('province staff see the same pages across their schools', async () => {
    await login(page, 'prov11');
    const who = await page.textContent('#who-name');
    assert(who.includes('考区管理员 11'), 'who: ' + who);
    const text = await page.textContent('#app');
    assert(text.includes('北京邮电大学'), 'the province\'s school on its dashboard');
    await shot(page, 'province-dashboard');
    await navTo(page, 'announcements', '#ann-scope');
    const opts = await page.locator('#ann-scope option').allTextContents();
    assert(opts[0].includes('本考区') && opts.some(o => o.includes('北京邮电大学')), 'scopes: ' + opts.join(', '));
    await shot(page, 'province-announcements');
  }, { page });
  await check('the support desk lands on its page, no school matters', async () => {
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    await login(page, 'support', '#sup-search');
    assert(await page.locator('#nav').isHidden(), 'no school pages in the navigation');
    assert(await page.locator('#support-placeholder').count() === 0, 'the placeholder is gone');
  }, { page });
  await check('support finds the bound account by ID number and rebinds it to the new 通行证ID', async () => {
    /* the guide's case: the candidate made a new account and reads out its 通行证ID */
    const email = 'new' + Date.now() + '@browser.test', password = 'browser-Pass-2026';
    const r = await context.request.post(opt.base + '/api/v1/accounts',
      { data: { email, password, captcha_id: 'x', captcha_answer: 'x' } });
    assert(r.status() === 201, 'account: ' + r.status());
    const newId = (await r.json()).account_id;
    const rv = opt.review;
    await page.selectOption('#sup-kind', 'id');
    await page.selectOption('#sup-id-type', rv.id_type);
    await page.fill('#sup-q', rv.id_number);
    await page.click('#sup-find');
    await page.waitForSelector('#sup-result .support-account', { timeout: 15000 });
    let text = await page.textContent('#sup-result');
    assert(text.includes('已绑定') && text.includes('@browser.test') && text.includes('英语四级笔试'),
      'found: ' + text);
    assert(!text.includes(rv.id_number), 'the ID number is masked: ' + text);
    await shot(page, 'support-found-by-id');
    /* the new account by its 通行证ID: unbound */
    await page.selectOption('#sup-kind', 'account_id');
    await page.fill('#sup-q', newId.toUpperCase());
    await page.click('#sup-find');
    await page.locator('#sup-result', { hasText: '未绑定' }).waitFor({ timeout: 15000 });
    await page.click('#sup-result button');
    assert((await page.inputValue('#rb-to')) === newId.toUpperCase(), 'the target filled in');
    await page.selectOption('#rb-id-type', rv.id_type);
    await page.fill('#rb-id-number', rv.id_number);
    await page.fill('#rb-name', rv.name);
    await page.click('#rb-submit');
    const ok = await okMsg(page, '#rb-result', '换绑成功');
    assert(ok.includes(newId.toUpperCase()) && ok.includes('英语四级笔试'), 'result: ' + ok);
    /* by email now: the new account holds the binding */
    await page.selectOption('#sup-kind', 'email');
    await page.fill('#sup-q', email);
    await page.click('#sup-find');
    await page.locator('#sup-result', { hasText: '已绑定' }).waitFor({ timeout: 15000 });
    text = await page.textContent('#sup-result');
    assert(text.includes(email) && text.includes('英语四级笔试'), 'new account: ' + text);
    await shot(page, 'support-rebound');
    /* the new account sees the registration; the old one does not */
    const s = await context.request.post(opt.base + '/api/v1/sessions',
      { data: { email, password, captcha_id: 'x', captcha_answer: 'x' } });
    const tok = (await s.json()).token;
    const c = await context.request.get(opt.base + '/api/v1/candidate', { headers: { Authorization: 'Bearer ' + tok } });
    assert(c.status() === 200, 'new account /candidate: ' + c.status());
    assert((await c.json()).written.some(w => w.subject === '1'), 'the registration moved');
    if (candToken) {
      const o = await context.request.get(opt.base + '/api/v1/candidate', { headers: { Authorization: 'Bearer ' + candToken } });
      assert(o.status() === 409, 'old account /candidate: ' + o.status());
    }
  }, { page });
  await context.close();
}

async function main() {
  const browser = await launch(chromium, opt.chromium);
  let candToken = '';
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  await check('a candidate asks for the CET6 review (pending: the score is under another ID)', async () => {
    candToken = await makePendingReview(ctx.request);
  }, { essential: true });
  await ctx.close();
  await deskWalk(browser, candToken);
  unblock();
  await phoneWalk(browser);
  await provinceWalk(browser, candToken);
  await browser.close();
}

run(main);
