#!/usr/bin/env node
/*
 * lifecycle.test.js: headless Chromium (playwright-core, Debian's chromium) walks the
 * account lifecycle's pages in tools/www over the h2o edge to a real cetd whose mail
 * goes by SMTP to tools/mailsink.py, once on a 390x844 phone and once at a 1366x768
 * desk, each with its own new account and roster candidate:
 *   the entry page's six entries and the sitting's exam dates (考试时间);
 *   注册新用户 through the page, then the candidate bound (API);
 *   找回密码: the reset mail read from the sink's directory, its link
 *     ({public_url}/reset?token=...) opened, a new password set; the old one now
 *     fails at 进入报名, the new one logs in;
 *   账号信息: the 通行证ID (as GET /me has it); 修改密码 (the new one works, the old
 *     fails); 修改资料 (email, with the password; the old address gets a notice);
 *   找回已报名账号: ID type + number + name + captcha → the masked (new) email.
 * Screenshots: --artifacts/lifecycle-<viewport>-NN-<step>.png.
 *
 * Started by run_lifecycle.sh:
 *   node lifecycle.test.js --base https://127.0.0.1:PORT --artifacts DIR --mail-dir DIR \
 *     --people '[{"id_type":..,"id_number":..,"name":..}, {..}]'
 * Prints one line per check and "browser test: N passed, N failed" last.
 */
'use strict';

const path = require('path');
const { execFileSync } = require('child_process');
const { chromium } = require('playwright-core');
const { harness } = require('./harness');

function parseArgs(argv) {
  const o = { base: '', artifacts: 'artifacts', mailDir: '', people: null, chromium: '/usr/bin/chromium' };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    switch (a) {
      case '--base': o.base = v.replace(/\/+$/, ''); i++; break;
      case '--artifacts': o.artifacts = v; i++; break;
      case '--mail-dir': o.mailDir = v; i++; break;
      case '--people': o.people = JSON.parse(v); i++; break;
      case '--chromium': o.chromium = v; i++; break;
      default: throw new Error('unknown argument ' + a);
    }
  }
  if (!o.base || !o.mailDir || !o.people || o.people.length < 2) throw new Error('--base, --mail-dir and --people (2) are required');
  return o;
}
const opt = parseArgs(process.argv);
const VIEWPORTS = [['phone', { width: 390, height: 844 }], ['desk', { width: 1366, height: 768 }]];
const CAPTCHA = '00000'; /* cetd runs with --captcha off */

const { log, assert, check, unblock, run } = harness(opt.artifacts, 'lifecycle-');
/* numbered per viewport (the harness's own numbering is for its failure shots) */
const shotNo = {};
async function shot(page, tag, name) {
  shotNo[tag] = (shotNo[tag] || 0) + 1;
  const file = path.join(opt.artifacts, 'lifecycle-' + tag + '-' + String(shotNo[tag]).padStart(2, '0') + '-' + name + '.png');
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/* The sink's mails (its directory, parsed by Python's email package): [{to, subject, body}]. */
const PARSE = String.raw`
import email, email.policy, json, os, sys
d = sys.argv[1]; out = []
for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
    if not n.endswith(".eml"): continue
    m = email.message_from_bytes(open(os.path.join(d, n), "rb").read(), policy=email.policy.default)
    b = m.get_body(preferencelist=("plain", "html"))
    out.append({"file": n, "to": str(m["to"] or ""), "subject": str(m["subject"] or ""),
                "body": b.get_content() if b else ""})
print(json.dumps(out, ensure_ascii=False))
`;
function mails() { return JSON.parse(execFileSync('python3', ['-c', PARSE, opt.mailDir], { encoding: 'utf-8' })); }
async function waitMail(to, pred, count = 1, timeout = 20000) {
  const t0 = Date.now();
  for (;;) {
    const got = mails().filter(m => m.to.toLowerCase().includes(to.toLowerCase()) && pred(m));
    if (got.length >= count) return got;
    if (Date.now() - t0 > timeout) throw new Error('no mail to ' + to + ' in ' + timeout + ' ms (sink has ' + mails().length + ')');
    await new Promise(r => setTimeout(r, 200));
  }
}

async function expectNotice(page, kind, text, timeout = 10000, root = '') {
  const loc = page.locator((root ? root + ' ' : '') + '.notice-' + kind, { hasText: text });
  await loc.first().waitFor({ state: 'visible', timeout });
  return (await loc.first().textContent()).trim();
}
async function gotoRoute(page, route) {
  const hash = '#/' + route;
  if (!page.url().startsWith(opt.base + '/') || /\/reset/.test(new URL(page.url()).pathname)) {
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
async function fillCaptcha(page) {
  await page.waitForFunction(() => {
    const i = document.querySelector('img.captcha-img');
    return i && i.getAttribute('src');
  }, null, { timeout: 10000 });
  await page.fill('#captcha_answer', CAPTCHA);
}
/* 进入报名 with email and password; true when it reached the home page. */
async function pageLogin(page, email, password) {
  await gotoRoute(page, 'login');
  await page.fill('#email', email);
  await page.fill('#password', password);
  await fillCaptcha(page);
  await page.click('form button[type=submit]');
  const home = page.waitForFunction(() => location.hash === '#/home' || location.hash === '#/qualify' ||
    location.hash === '#/agreement', null, { timeout: 10000 }).then(() => true);
  const err = page.locator('#app .notice-error').first().waitFor({ state: 'visible', timeout: 10000 }).then(() => false);
  /* no wait for the home page's GET /me: 账号信息 follows at once, and the home
     page must not render over it when its answer comes late */
  return Promise.race([home, err]);
}
async function logout(page) {
  /* 退出 in the header (DELETE /sessions), then the entry page afresh */
  if (await page.isVisible('#logout')) {
    await page.click('#logout');
    await page.waitForFunction(() => location.hash === '#/login', null, { timeout: 10000 });
  }
  await page.evaluate(() => { try { sessionStorage.clear(); } catch (e) {} });
  await page.goto(opt.base + '/#/entry');
  await page.locator('#entry #enter').waitFor({ timeout: 10000 });
}

async function api(request, method, p, body, token) {
  const r = await request.fetch(opt.base + '/api/v1' + p, { method, data: body,
    headers: token ? { Authorization: 'Bearer ' + token } : {} });
  const j = await r.json().catch(() => null);
  return { status: r.status(), body: j };
}
async function apiLogin(request, email, password) {
  return api(request, 'POST', '/sessions', { email, password, captcha_id: 'x', captcha_answer: 'x' });
}

async function walk(browser, tag, viewport, person) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'zh-CN', viewport,
    timezoneId: 'Asia/Shanghai', isMobile: tag === 'phone', hasTouch: tag === 'phone' });
  const page = await context.newPage();
  const request = context.request;
  page.on('pageerror', e => log('  page error: ' + e.message));
  const stamp = Date.now().toString(36);
  let email = 'life-' + tag + '-' + stamp + '@browser.test';
  const pw0 = 'first-Pass-2026', pw1 = 'reset-Pass-2027', pw2 = 'change-Pass-2028';
  const email2 = 'life-' + tag + '-new-' + stamp + '@browser.test';
  unblock();

  await check(tag + ': the entry page shows its six entries and the exam dates', async () => {
    await page.goto(opt.base + '/');
    await page.locator('#entry #enter').waitFor({ timeout: 10000 });
    const want = [['#enter', '进入报名', '#/login'], ['#entry-register', '注册新用户', '#/register'],
      ['#entry-recover', '找回已报名账号', '#/recover'], ['#entry-forgot', '找回密码', '#/forgot'],
      ['#entry-faq', '常见问题', '#/faq'], ['#entry-times', '考试时间', '#exam-times-card']];
    assert(await page.locator('#entry .entry-link').count() === 6, 'not six entries');
    for (const [sel, text, href] of want) {
      const l = page.locator('#entry ' + sel);
      assert(await l.isVisible(), sel + ' is not visible');
      assert((await l.textContent()).includes(text), sel + ' reads ' + await l.textContent());
      assert(await l.getAttribute('href') === href, sel + ' goes to ' + await l.getAttribute('href'));
    }
    await page.locator('#exam-times').waitFor({ timeout: 10000 });
    const t = await page.textContent('#exam-times');
    for (const w of ['考生网上报名', '笔试', '口试', '准考证打印']) assert(t.includes(w), 'exam times lack ' + w + ': ' + t);
    assert(/20\d\d/.test(t), 'no date in the exam times: ' + t);
    const h3 = await page.textContent('#exam-times-holder h3');
    assert(h3.endsWith('考试时间') && !h3.includes('考试考试'), 'the exam times heading: ' + h3);
    await shot(page, tag, 'entry');
    await page.click('#entry-times');
    await page.waitForFunction(() => {
      const r = document.querySelector('#exam-times-card').getBoundingClientRect();
      return r.top < window.innerHeight && r.bottom > 0;
    }, null, { timeout: 5000 });
    await page.screenshot({ path: path.join(opt.artifacts, 'lifecycle-' + tag + '-exam-times-viewport.png') });
    await page.click('#entry-faq');
    await page.locator('#faq dt').first().waitFor({ timeout: 10000 });
    assert((await page.textContent('#faq')).includes('忘记了密码'), 'the FAQ lacks the password question');
    await shot(page, tag, 'faq');
  }, { page, essential: true });

  await check(tag + ': 注册新用户 through the page; the candidate bound to it', async () => {
    await gotoRoute(page, 'entry');
    await page.click('#entry-register');
    await page.locator('form #password2').waitFor({ timeout: 10000 });
    await page.fill('#email', email);
    await page.fill('#password', pw0);
    await page.fill('#password2', pw0);
    await fillCaptcha(page);
    await page.click('form button[type=submit]');
    await expectNotice(page, 'ok', '已注册');
    const s = await apiLogin(request, email, pw0);
    assert(s.status === 200 || s.status === 201, 'login: ' + s.status + ' ' + JSON.stringify(s.body));
    const tok = s.body.token;
    let r = await api(request, 'POST', '/agreement', undefined, tok);
    assert(r.status < 300, 'agreement: ' + r.status + ' ' + JSON.stringify(r.body));
    r = await api(request, 'POST', '/candidate', Object.assign({ confirmed: true }, person), tok);
    assert(r.status < 300, 'candidate: ' + r.status + ' ' + JSON.stringify(r.body));
    await api(request, 'DELETE', '/sessions', undefined, tok);
  }, { page, essential: true });

  await check(tag + ': 找回密码 sends the reset mail to the account\'s email', async () => {
    await gotoRoute(page, 'entry');
    await page.click('#entry-forgot');
    await page.locator('form#forgot #email').waitFor({ timeout: 10000 });
    await page.fill('#email', email);
    await fillCaptcha(page);
    await shot(page, tag, 'forgot');
    await page.click('form#forgot button[type=submit]');
    await page.locator('#forgot-done').waitFor({ timeout: 10000 });
    assert((await page.textContent('#forgot-done')).includes('请注意查收'), 'forgot-done text');
    await shot(page, tag, 'forgot-done');
  }, { page, essential: true });

  let link = '';
  await check(tag + ': the mail in the sink carries the {public_url}/reset?token= link', async () => {
    const m = (await waitMail(email, x => /\/reset\?token=/.test(x.body)))[0];
    const found = m.body.match(/https:\/\/[^\s"'<>]+\/reset\?token=[0-9a-f]+/);
    assert(found, 'no reset link in the mail: ' + m.body.slice(0, 400));
    link = found[0];
    assert(link.startsWith(opt.base + '/reset?token='), 'the link is not on the public URL: ' + link);
    log('  mail "' + m.subject + '" to ' + m.to + ': ' + link.slice(0, opt.base.length + 24) + '...');
  }, { page, essential: true });

  await check(tag + ': the mailed link opens /reset; a new password is set', async () => {
    await page.goto(link);
    await page.locator('form#reset #new_password').waitFor({ timeout: 10000 });
    assert(!(await page.locator('#app .notice-error').count()), 'the reset page shows an error at once');
    await page.fill('#new_password', pw1);
    await page.fill('#new_password2', pw1);
    await shot(page, tag, 'reset');
    await page.click('form#reset button[type=submit]');
    await page.locator('#reset-done').waitFor({ timeout: 10000 });
    await expectNotice(page, 'ok', '修改密码成功');
    await shot(page, tag, 'reset-done');
  }, { page, essential: true });

  await check(tag + ': the used link is refused a second time', async () => {
    await page.goto(link);
    await page.locator('form#reset #new_password').waitFor({ timeout: 10000 });
    await page.fill('#new_password', pw2);
    await page.fill('#new_password2', pw2);
    await page.click('form#reset button[type=submit]');
    await expectNotice(page, 'error', '已经使用过');
    await shot(page, tag, 'reset-used');
    assert(await page.getAttribute('form#reset a[href="/#/forgot"]', 'href'), 'no way from the used link to 找回密码');
  }, { page });

  await check(tag + ': 进入报名: the old password fails, the new one logs in', async () => {
    await logout(page);
    assert(!(await pageLogin(page, email, pw0)), 'the old password still logs in');
    await shot(page, tag, 'login-old-refused');
    assert(await pageLogin(page, email, pw1), 'the new password does not log in');
  }, { page, essential: true });

  let accountId = '';
  await check(tag + ': 账号信息 shows the 通行证ID (as GET /me has it)', async () => {
    const tok = await page.evaluate(() => {
      for (const st of [sessionStorage, localStorage]) for (let i = 0; i < st.length; i++) {
        const k = st.key(i); if (/token/i.test(k)) return st.getItem(k);
      }
      return '';
    });
    await gotoRoute(page, 'account');
    await page.locator('#account #account-id').waitFor({ timeout: 10000 });
    accountId = (await page.textContent('#account-id')).trim();
    assert(/^[0-9A-Z-]{6,}$/.test(accountId), 'the 通行证ID reads "' + accountId + '"');
    assert((await page.textContent('#account-email')).trim() === email, 'the email shown: ' + await page.textContent('#account-email'));
    assert((await page.textContent('#account')).includes('已绑定'), 'not shown as bound');
    if (tok) {
      const me = await api(request, 'GET', '/me', undefined, tok);
      assert(String(me.body && me.body.account_id || '').toUpperCase() === accountId,
        'GET /me account_id ' + JSON.stringify(me.body && me.body.account_id) + ' vs the page ' + accountId);
    }
    await shot(page, tag, 'account');
  }, { page, essential: true });

  await check(tag + ': 修改密码 with a wrong current password: refused under the field, still logged in', async () => {
    await page.fill('form#change-password #password', pw1 + 'x');
    await page.fill('form#change-password #new_password', pw2);
    await page.fill('form#change-password #new_password2', pw2);
    await page.click('form#change-password button[type=submit]');
    await expectNotice(page, 'error', '当前密码错误', 10000, 'form#change-password .form-row:has(#password)');
    assert(await page.isVisible('#account #account-id'), 'the account page is gone (logged out?)');
    await shot(page, tag, 'password-wrong');
  }, { page });

  await check(tag + ': 修改密码 on the account page: the new one works, the old one fails', async () => {
    await page.fill('form#change-password #password', pw1);
    await page.fill('form#change-password #new_password', pw2);
    await page.fill('form#change-password #new_password2', pw2);
    await page.click('form#change-password button[type=submit]');
    await expectNotice(page, 'ok', '密码修改成功', 10000, 'form#change-password');
    await shot(page, tag, 'password-changed');
    const bad = await apiLogin(request, email, pw1);
    assert(bad.status >= 400, 'the old password still opens a session: ' + bad.status);
    const good = await apiLogin(request, email, pw2);
    assert(good.status < 300, 'the new password: ' + good.status + ' ' + JSON.stringify(good.body));
    await api(request, 'DELETE', '/sessions', undefined, good.body.token);
  }, { page, essential: true });

  await check(tag + ': 修改资料 (email, with the password); the old address gets a notice mail', async () => {
    await page.fill('form#change-email #new_email', email2);
    await page.fill('form#change-email #email_password', pw2 + 'x');
    await page.click('form#change-email button[type=submit]');
    await expectNotice(page, 'error', '当前密码错误', 10000, 'form#change-email .form-row:has(#email_password)');
    assert(await page.isVisible('#account #account-id'), 'the account page is gone (logged out?)');
    await shot(page, tag, 'email-wrong-password');
    await page.fill('form#change-email #email_password', pw2);
    await page.click('form#change-email button[type=submit]');
    await expectNotice(page, 'ok', '更改成功', 10000, 'form#change-email');
    assert((await page.textContent('#account-email')).trim() === email2, 'the page still shows ' + await page.textContent('#account-email'));
    await shot(page, tag, 'email-changed');
    const notice = await waitMail(email, x => x.subject.includes('邮箱'), 1);
    const m = notice[notice.length - 1];
    assert(!/reset\?token=/.test(m.body), 'the notice carries a reset link');
    log('  notice to the old address: "' + m.subject + '"');
    const old = await apiLogin(request, email, pw2);
    assert(old.status >= 400, 'the old email still logs in: ' + old.status);
    email = email2;
  }, { page });

  await check(tag + ': the new email logs in through the page', async () => {
    await logout(page);
    assert(await pageLogin(page, email, pw2), 'the new email does not log in');
    await logout(page);
  }, { page });

  await check(tag + ': 找回已报名账号: ID type, number, name, captcha → the masked email', async () => {
    await logout(page);
    await gotoRoute(page, 'entry');
    await page.click('#entry-recover');
    await page.locator('form#recover #id_number').waitFor({ timeout: 10000 });
    await page.selectOption('#id_type', person.id_type);
    await page.fill('#id_number', person.id_number);
    await page.fill('#name', person.name);
    await fillCaptcha(page);
    await page.click('form#recover button[type=submit]');
    await page.locator('#recovered').waitFor({ timeout: 10000 });
    const t = (await page.textContent('#recovered')).replace(/\s+/g, '');
    await shot(page, tag, 'recovered');
    const [local, domain] = email.split('@');
    assert(t.includes('@' + domain) || t.includes(domain.slice(-4)), 'the masked email: ' + t);
    assert(t.includes('*'), 'the email is not masked: ' + t);
    assert(!t.includes(local), 'the whole local part is shown: ' + t);
    const ok = page.locator('#recover-ok');
    if (await ok.count()) await ok.click();
    log('  recovered: ' + t);
  }, { page });

  await context.close();
}

run(async () => {
  let browser;
  try {
    browser = await chromium.launch({ executablePath: opt.chromium, headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    for (let i = 0; i < VIEWPORTS.length; i++) await walk(browser, VIEWPORTS[i][0], VIEWPORTS[i][1], opt.people[i]);
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
});
