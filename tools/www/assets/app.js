/*
 * cetreg candidate pages: a single-page app with hash routes, plain ES2017,
 * no build step, no dependencies. Talks to cetd through the h2o edge at
 * /api/v1 (docs/openapi.yaml). Server text is always put into the page as text
 * (never as HTML).
 *
 * Routes: #/login #/register #/home #/agreement #/qualify #/registration
 *         #/review #/written #/oral #/pay/<order_id>
 */
(function () {
  'use strict';

  var API = '/api/v1';
  var TOKEN_KEY = 'cet.token';
  var EMAIL_KEY = 'cet.email';
  var ORDER_KEY = 'cet.pendingOrder';
  var RETRIES_MAX = 3;          /* automatic retries of one click on 502/503/504/network */
  var RETRY_DELAY_MAX_MS = 3000;
  var POLL_INTERVAL_MS = 1500;
  var POLL_ROUNDS_MAX = 200;    /* ~5 minutes of order polling */

  /* ---------------------------------------------------------------- texts */

  /* Every error.code of base/cet_err.h, in Chinese. */
  var ERROR_TEXT = {
    ok: '操作成功',
    malformed_json: '请求格式错误，请刷新页面后重试。',
    invalid_utf8: '提交的内容含有无法识别的字符，请检查后重试。',
    missing_field: '有必填项未填写，请补全后再提交。',
    wrong_type: '提交的内容格式不正确，请检查后重试。',
    unknown_field: '请求含有系统不接受的内容，请刷新页面后重试。',
    bad_request: '请求无效，请刷新页面后重试。',
    bad_query: '查询参数无效，请刷新页面后重试。',
    unauthorized: '登录已失效，请重新登录。',
    invalid_credentials: '账号或密码错误。',
    invalid_signature: '支付通知签名无效。',
    forbidden: '当前账号无权进行此操作。',
    agreement_required: '请先阅读并同意报名协议。',
    not_found: '请求的内容不存在。',
    roster_not_found: '未查询到与证件类型、证件号码和姓名完全一致的学籍信息，请核对后重试，或联系所在学校。',
    not_bound: '请先完成资格信息查询并确认报名。',
    offer_not_found: '该校区未开考此科目。',
    registration_not_found: '未找到该科目的报名记录。',
    order_not_found: '未找到该支付订单。',
    review_not_found: '当前账号没有CET6资格复核申请。',
    method_not_allowed: '不支持此操作。',
    email_taken: '该邮箱已注册通行证账号，请直接登录或找回密码。',
    window_closed: '当前不在报名时间内。',
    already_bound: '当前账号已绑定考生报名信息，一个账号只能为一名考生报名。',
    candidate_taken: '该考生已被其他账号绑定报名。如非本人操作，请联系所在学校。',
    not_qualified: '您没有该科目的报考资格。',
    seats_full: '该科目在此校区的考位已满，请选择其他科目或校区。',
    one_per_level: '同一级别的笔试只能报考一个科目（例如英语四级与日语四级不能同时报考）。',
    already_registered: '您已报考该科目，无需重复报考。',
    too_many_registrations: '报考科目数已达上限，不能再报考。',
    oral_needs_written: '报考口试前，请先报考同语种、同级别的笔试科目。',
    campus_not_allowed: '您所在学校不允许在该校区参加考试。',
    registration_paid: '已缴费的科目不能取消。',
    registration_locked: '该科目已被学校锁定为集体缴费，不能取消或个人缴费。',
    oral_paid: '该笔试科目对应的口试已缴费，不能取消笔试。',
    payment_pending: '该科目有一笔支付订单正在处理中，请稍后查看支付结果。',
    nothing_to_pay: '所选科目中没有待缴费的报名。',
    review_not_offered: '您不符合申请CET6资格复核的条件。',
    review_exists: '当前账号已有一份CET6资格复核申请。',
    review_not_editable: '只有未通过的复核申请可以修改或删除。',
    order_closed: '该支付订单已关闭，请重新发起支付。',
    idempotency_conflict: '重复提交的内容与首次不同，请刷新页面后重试。',
    invalid_field: '填写的内容无效，请检查后重试。',
    invalid_email: '邮箱地址格式不正确。',
    weak_password: '密码须为8至128位，且同时包含字母和数字。',
    captcha_invalid: '验证码错误或已过期，请重新输入。',
    id_type_refused: '不支持该证件类型（不支持军官证）。',
    invalid_id_number: '证件号码格式不正确。',
    id_check_digit: '身份证号码校验位错误，请核对最后一位。',
    not_confirmed: '请先勾选确认信息无误。',
    ticket_invalid: '准考证号须为15位数字，且为2005年及以后的考试。',
    review_refused: '未找到与该准考证号及您的证件号码或姓名相符的CET4合格成绩。2005年之前的成绩请联系学校办理。',
    amount_mismatch: '支付金额与订单不符。',
    body_too_large: '提交的内容过长。',
    unsupported_media_type: '请求格式不受支持，请刷新页面后重试。',
    rate_limited: '尝试次数过多，请一分钟后再试。',
    internal: '系统内部错误，请稍后重试。',
    overloaded: '当前访问人数较多，系统繁忙，请稍后重试。',
    draining: '系统正在维护，请稍后重试。',
    storage_unavailable: '系统暂时无法保存数据，请稍后重试。',
    /* the page's own (not from cetd) */
    network: '网络连接失败，请检查网络后重试。',
    gateway: '服务器繁忙或暂时不可用，请稍后重试。'
  };

  var FIELD_TEXT = {
    email: '邮箱', password: '密码', captcha_answer: '验证码', captcha_id: '验证码',
    id_type: '证件类型', id_number: '证件号码', name: '姓名', ticket_number: '准考证号',
    subject: '科目', campus: '校区', subjects: '科目', channel: '支付方式', confirmed: '确认'
  };

  var ID_TYPES = [
    ['mainland', '中华人民共和国居民身份证'],
    ['taiwan', '台湾居民往来大陆通行证'],
    ['hkmo_permit', '港澳居民来往内地通行证'],
    ['passport', '护照'],
    ['hongkong', '香港身份证'],
    ['macao', '澳门身份证']
  ];

  var SUBJECT_NAMES = {
    '1': '英语四级笔试', '2': '英语六级笔试', '3': '日语四级笔试', '4': '日语六级笔试',
    '5': '德语四级笔试', '6': '德语六级笔试', '7': '俄语四级笔试', '8': '俄语六级笔试',
    '9': '法语四级笔试', F: '英语四级口试', S: '英语六级口试'
  };

  var REVIEW_STATE_TEXT = {
    auto_approved: '已通过（自动审核）', approved: '已通过', pending: '待学校审核',
    rejected: '未通过'
  };

  var PAY_CHANNELS = [['alipay', '支付宝'], ['bank', '网银支付']];

  var AGREEMENT = [
    '本报名网站的所有权归教育部考试中心所有，考生必须完全同意本协议条款，方可进行网上报名。',
    '考生本人已认真阅读并同意遵守本网站提供的报名流程及考生须知。',
    '考生本人保证报名时的个人信息资料真实、正确，并将对个人信息不真实或不正确而导致无法参加考试以及其它直接或间接的后果负责。',
    '考生本人理解并同意，在报名过程中出现不可抗力所引起的无法正常报名的情况，本网站不承担任何直接或间接的责任。',
    '考生本人理解并同意，网上支付系统由支付平台所有并运营，在付费过程中由于支付平台网上系统问题引起的问题，由支付平台负责处理。',
    '考生本人应妥善保管通行证账号及密码，因个人保管不当造成的后果由考生本人承担。',
    '遵守全国大学英语四、六级考试有关报名规定，不弄虚作假，不伪造、使用假证明、假证书。如有违反，自愿按规定接受处理。',
    '服从考场工作人员和监考教师管理，自觉遵守考试纪律，考试诚实守信，不违规，不作弊。'
  ];

  /* ---------------------------------------------------------------- small helpers */

  function $(sel, root) { return (root || document).querySelector(sel); }

  /* h('div.card#x', {attr: v, onclick: f}, child...): builds DOM; strings become text. */
  function h(spec, attrs) {
    var m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/i.exec(spec);
    var el = document.createElement(m ? m[1] : 'div');
    if (m && m[2]) {
      m[2].replace(/([.#])([\w-]+)/g, function (_, kind, name) {
        if (kind === '.') el.classList.add(name); else el.id = name;
      });
    }
    var start = 1;
    if (attrs && typeof attrs === 'object' && !(attrs instanceof Node) && !Array.isArray(attrs)) {
      start = 2;
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) return;
        if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
        else if (k === 'text') el.textContent = v;
        else if (k in el && k !== 'list' && k !== 'form' && typeof v !== 'string') el[k] = v;
        else el.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = start; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, c) {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { append(el, x); }); return; }
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }

  /* First defined value among several possible field names. */
  function pick(obj) {
    if (!obj || typeof obj !== 'object') return undefined;
    for (var i = 1; i < arguments.length; i++) {
      var v = obj[arguments[i]];
      if (v !== undefined && v !== null) return v;
    }
    return undefined;
  }

  /* "(991010)99101-0校区" from {code, name} or a code and a name. */
  function place(p, name) {
    if (p && typeof p === 'object') { name = pick(p, 'name'); p = pick(p, 'code'); }
    if (p === undefined || p === null || p === '') return name || '';
    return name ? '(' + p + ')' + name : String(p);
  }
  function placeCode(p) {
    return p && typeof p === 'object' ? String(pick(p, 'code')) : String(p === undefined ? '' : p);
  }

  function money(fen) {
    if (typeof fen !== 'number' || !isFinite(fen)) return '—';
    return (fen / 100).toFixed(2) + ' 元';
  }

  /* "2026-12-01T09:00:00+08:00" -> "2026-12-01 09:00" (the server's own offset). */
  function when(t) {
    if (!t) return '—';
    if (typeof t === 'number') t = new Date(t * 1000).toISOString();
    var m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}))?/.exec(String(t));
    if (!m) return String(t);
    return m[2] ? m[1] + ' ' + m[2] : m[1];
  }
  function day(t) { return when(t).slice(0, 10); }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var x = Array.prototype.map.call(b, function (v) { return (v + 0x100).toString(16).slice(1); }).join('');
    return x.slice(0, 8) + '-' + x.slice(8, 12) + '-' + x.slice(12, 16) + '-' + x.slice(16, 20) + '-' + x.slice(20);
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function subjectCode(s) {
    if (s && typeof s === 'object') return String(pick(s, 'code', 'subject') || '');
    return String(s || '');
  }
  function subjectName(s, fallbackName) {
    var code = subjectCode(s);
    var name = (s && typeof s === 'object' && pick(s, 'name', 'subject_name')) || fallbackName;
    return name || SUBJECT_NAMES[code] || ('科目 ' + code);
  }
  function isOral(code) { return !/^[0-9]$/.test(String(code)); }

  function idTypeName(t) {
    for (var i = 0; i < ID_TYPES.length; i++) if (ID_TYPES[i][0] === t) return ID_TYPES[i][1];
    return t || '—';
  }

  /* ISO 7064 MOD 11-2 check character of a mainland ID number. */
  function mainlandCheckChar(d17) {
    var w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    var s = 0;
    for (var i = 0; i < 17; i++) s += (d17.charCodeAt(i) - 48) * w[i];
    return '10X98765432'.charAt(s % 11);
  }
  /* Returns an error code or '' for an ID number the server would accept. */
  function checkIdNumber(type, num) {
    if (type === 'mainland') {
      if (!/^\d{17}[\dXx]$/.test(num)) return 'invalid_id_number';
      if (mainlandCheckChar(num.slice(0, 17)) !== num.charAt(17).toUpperCase()) return 'id_check_digit';
      return '';
    }
    return /^[A-Za-z0-9()\-]{5,20}$/.test(num) ? '' : 'invalid_id_number';
  }

  /* ---------------------------------------------------------------- session */

  var session = {
    token: function () { return sessionStorage.getItem(TOKEN_KEY) || ''; },
    email: function () { return sessionStorage.getItem(EMAIL_KEY) || ''; },
    set: function (token, email) {
      sessionStorage.setItem(TOKEN_KEY, token);
      sessionStorage.setItem(EMAIL_KEY, email || '');
    },
    clear: function () {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(EMAIL_KEY);
      sessionStorage.removeItem(ORDER_KEY);
      state.me = null;
    }
  };

  var state = { me: null };

  /* ---------------------------------------------------------------- API */

  function ApiError(status, code, message, field) {
    this.status = status; this.code = code; this.message = message; this.field = field;
  }
  /* A failure worth retrying with the same Idempotency-Key. */
  function transient(e) {
    return e instanceof ApiError &&
      (e.code === 'network' || e.code === 'gateway' || e.status === 502 || e.status === 503 ||
       e.status === 504 || e.code === 'overloaded' || e.code === 'draining' ||
       e.code === 'storage_unavailable');
  }

  function once(method, path, body, key) {
    var headers = { Accept: 'application/json' };
    var tok = session.token();
    if (tok) headers.Authorization = 'Bearer ' + tok;
    if (body !== undefined) headers['Content-Type'] = 'application/json; charset=utf-8';
    if (key) headers['Idempotency-Key'] = key;
    return fetch(API + path, {
      method: method, headers: headers, credentials: 'omit', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (ignored) { data = null; }
        if (res.ok) return data || {};
        var err = data && data.error;
        if (err && err.code) {
          var e = new ApiError(res.status, err.code, err.message, err.field);
          e.retryAfter = parseInt(res.headers.get('Retry-After') || '0', 10) || 0;
          throw e;
        }
        /* h2o's own 502/503/504 (cetd down or too slow) have no JSON body. */
        throw new ApiError(res.status, res.status >= 500 ? 'gateway' : 'bad_request', text.slice(0, 200));
      });
    }, function () {
      throw new ApiError(0, 'network', '');
    });
  }

  /*
   * One call, retried on transient failures up to RETRIES_MAX times with the
   * same Idempotency-Key (mutating calls), so a retry never registers twice.
   */
  function api(method, path, body, key) {
    var mutating = method !== 'GET';
    if (mutating && !key) key = uuid();
    var attempt = 0;
    function go() {
      return once(method, path, body, mutating ? key : '').catch(function (e) {
        if (e.status === 401 && path !== '/sessions') {
          session.clear();
          showUser();
          location.hash = '#/login';
        }
        if (transient(e) && attempt < RETRIES_MAX) {
          attempt++;
          var delay = Math.min(RETRY_DELAY_MAX_MS, e.retryAfter ? e.retryAfter * 1000 : 400 * attempt);
          return sleep(delay + Math.floor(Math.random() * 200)).then(go);
        }
        throw e;
      });
    }
    return go();
  }

  /*
   * A button's action. The Idempotency-Key is kept while the same request
   * (same method, path and body) is still unresolved: a second click after a
   * transient failure reuses it; a definitive answer (success or refusal)
   * forgets it, so a changed form gets a fresh key.
   */
  var pendingKeys = {};
  function mutate(method, path, body) {
    var sig = method + ' ' + path + ' ' + JSON.stringify(body === undefined ? null : body);
    var key = pendingKeys[sig] || (pendingKeys[sig] = uuid());
    return api(method, path, body, key).then(function (r) {
      delete pendingKeys[sig];
      return r;
    }, function (e) {
      if (!transient(e)) delete pendingKeys[sig];
      throw e;
    });
  }

  function errorText(e) {
    if (!(e instanceof ApiError)) return ERROR_TEXT.internal;
    var t = ERROR_TEXT[e.code] || (e.status >= 500 ? ERROR_TEXT.gateway : (e.message || ERROR_TEXT.bad_request));
    if (e.field && FIELD_TEXT[e.field] && /missing_field|wrong_type|invalid_field/.test(e.code)) {
      t += '（' + FIELD_TEXT[e.field] + '）';
    }
    return t;
  }

  /* ---------------------------------------------------------------- page frame */

  var app = $('#app');

  var renders = 0;
  function render() {
    app.textContent = '';
    for (var i = 0; i < arguments.length; i++) append(app, arguments[i]);
    app.setAttribute('data-render', String(++renders)); /* tests wait on this */
    window.scrollTo(0, 0);
  }

  function notice(kind, text, code) {
    return h('div.notice.notice-' + kind, { role: kind === 'error' ? 'alert' : 'status' },
      text, code ? h('span.code', { text: '[' + code + ']' }) : null);
  }

  /* A slot for a form's message: set(kind, text) replaces it. */
  function messageSlot() {
    var el = h('div.msg');
    return {
      el: el,
      clear: function () { el.textContent = ''; },
      ok: function (t) { el.textContent = ''; el.appendChild(notice('ok', t)); },
      info: function (t) { el.textContent = ''; el.appendChild(notice('info', t)); },
      error: function (e) {
        el.textContent = '';
        el.appendChild(typeof e === 'string' ? notice('error', e)
          : notice('error', errorText(e), e && e.code));
      }
    };
  }

  /* Runs fn with the button disabled; shows errors in msg. */
  function busy(btn, msg, fn) {
    return function (ev) {
      if (ev) ev.preventDefault();
      if (btn.disabled) return;
      btn.disabled = true;
      var label = btn.textContent;
      btn.textContent = '处理中……';
      if (msg) msg.clear();
      Promise.resolve().then(fn).catch(function (e) {
        if (msg) msg.error(e);
      }).then(function () {
        btn.disabled = false;
        btn.textContent = label;
      });
    };
  }

  function steps(current) {
    var names = ['同意协议', '资格查询', '确认报名', '选择科目', '缴费'];
    return h('ol.steps', names.map(function (n, i) {
      return h('li' + (i < current ? '.done' : i === current ? '.current' : ''), { text: n });
    }));
  }

  function showUser() {
    var bar = $('#userbar');
    if (session.token()) {
      bar.hidden = false;
      $('#userbar-email').textContent = session.email();
    } else {
      bar.hidden = true;
    }
  }

  function row(label, control, opts) {
    opts = opts || {};
    return h('div.form-row',
      h('label' + (opts.required ? '.required' : ''), { for: control.id, text: label }),
      control,
      opts.hint ? h('div.hint', { text: opts.hint }) : null);
  }

  function input(id, type, attrs) {
    var a = { id: id, name: id, type: type || 'text' };
    Object.keys(attrs || {}).forEach(function (k) { a[k] = attrs[k]; });
    return h('input', a);
  }

  function idTypeSelect(id, value) {
    var sel = h('select', { id: id, name: id, required: true },
      h('option', { value: '', text: '- 请选择 -' }),
      ID_TYPES.map(function (t) { return h('option', { value: t[0], text: t[1] }); }));
    if (value) sel.value = value;
    return sel;
  }

  /* The captcha widget: image + answer input; refresh() fetches a new challenge. */
  function captcha() {
    var img = h('img.captcha-img', { alt: '验证码（点击刷新）', title: '点击刷新验证码' });
    var answer = input('captcha_answer', 'text', {
      autocomplete: 'off', inputmode: 'latin', maxlength: '8', placeholder: '请输入验证码',
      autocapitalize: 'off', spellcheck: 'false'
    });
    var w = {
      id: '',
      el: h('div.form-row', h('label.required', { for: 'captcha_answer', text: '验证码' }),
        h('div.captcha-row', answer, img)),
      answer: answer,
      refresh: function () {
        answer.value = '';
        return api('POST', '/captcha', {}).then(function (r) {
          w.id = r.captcha_id || '';
          if (r.image) img.src = r.image;
        }, function () {
          w.id = '';
          img.removeAttribute('src');
          img.alt = '验证码加载失败，点击重试';
        });
      }
    };
    img.addEventListener('click', function () { w.refresh(); });
    w.refresh();
    return w;
  }

  /* Loads /me once per page view; state.me caches it until a change. */
  function loadMe(force) {
    if (state.me && !force) return Promise.resolve(state.me);
    return api('GET', '/me').then(function (me) { state.me = me; return me; });
  }

  function meAgreed(me) {
    var v = pick(me, 'agreed', 'agreement_accepted', 'agreement');
    if (v && typeof v === 'object') v = pick(v, 'accepted');
    return !!v || !!pick(me, 'agreed_at');
  }
  function meBound(me) {
    var v = pick(me, 'bound', 'is_bound');
    if (v === undefined) v = !!pick(me, 'candidate');
    return !!v;
  }
  function sittingName(me) {
    var s = pick(me, 'sitting');
    if (s && typeof s === 'object') return pick(s, 'name') || '';
    return s || pick(me, 'sitting_name') || '';
  }
  function phaseText(me) {
    var p = pick(me, 'phase');
    if (p && typeof p === 'object') p = pick(p, 'name', 'state');
    var t = { none: '暂无考次', before_lookup: '尚未开始', lookup: '资格查询阶段（尚未开放报名）',
      open: '报名进行中', closed: '报名已结束', print: '准考证打印阶段' };
    return t[p] || (p ? String(p) : '—');
  }

  /* ---------------------------------------------------------------- pages */

  function pageLogin() {
    if (session.token()) { location.hash = '#/home'; return; }
    var msg = messageSlot();
    var email = input('email', 'email', { autocomplete: 'username', required: true, placeholder: '注册时使用的邮箱' });
    var pw = input('password', 'password', { autocomplete: 'current-password', required: true });
    var cap = captcha();
    var btn = h('button.btn', { type: 'submit', text: '登录' });
    var form = h('form', { novalidate: true },
      row('账号（邮箱）', email, { required: true }), row('密码', pw, { required: true }), cap.el,
      msg.el, h('div.actions', btn, h('a.btn.btn-secondary', { href: '#/register', text: '注册通行证' })));
    form.addEventListener('submit', busy(btn, msg, function () {
      var e = email.value.trim();
      if (!e || !pw.value || !cap.answer.value.trim()) { msg.error(ERROR_TEXT.missing_field); return; }
      return mutate('POST', '/sessions', {
        email: e, password: pw.value, captcha_id: cap.id, captcha_answer: cap.answer.value.trim()
      }).then(function (r) {
        session.set(r.token, e);
        showUser();
        var after = sessionStorage.getItem('cet.afterLogin');
        sessionStorage.removeItem('cet.afterLogin');
        location.hash = after || '#/home';
      }, function (err) {
        cap.refresh();
        throw err;
      });
    }));
    render(h('section.card.narrow', h('h2', { text: '考生登录' }), form,
      h('p.muted', { text: '没有通行证？请先注册。通行证账号为邮箱，报名期间请妥善保管密码。' })));
    email.focus();
  }

  function pageRegister() {
    var msg = messageSlot();
    var email = input('email', 'email', { autocomplete: 'email', required: true, placeholder: 'name@example.com' });
    var pw = input('password', 'password', { autocomplete: 'new-password', required: true });
    var pw2 = input('password2', 'password', { autocomplete: 'new-password', required: true });
    var cap = captcha();
    var btn = h('button.btn', { type: 'submit', text: '注册' });
    var form = h('form', { novalidate: true },
      row('邮箱', email, { required: true, hint: '邮箱即通行证账号，用于登录和找回密码。' }),
      row('密码', pw, { required: true, hint: '8至128位，须同时包含字母和数字。' }),
      row('确认密码', pw2, { required: true }), cap.el, msg.el,
      h('div.actions', btn, h('a.btn.btn-secondary', { href: '#/login', text: '返回登录' })));
    form.addEventListener('submit', busy(btn, msg, function () {
      var e = email.value.trim();
      if (!e || !pw.value || !cap.answer.value.trim()) { msg.error(ERROR_TEXT.missing_field); return; }
      if (pw.value !== pw2.value) { msg.error('两次输入的密码不一致。'); return; }
      if (pw.value.length < 8 || !/[A-Za-z]/.test(pw.value) || !/\d/.test(pw.value)) {
        msg.error(ERROR_TEXT.weak_password); return;
      }
      return mutate('POST', '/accounts', {
        email: e, password: pw.value, captcha_id: cap.id, captcha_answer: cap.answer.value.trim()
      }).then(function () {
        render(h('section.card.narrow', h('h2', { text: '注册成功' }),
          notice('ok', '通行证账号 ' + e + ' 已注册，请登录后开始报名。'),
          h('div.actions', h('a.btn', { href: '#/login', text: '去登录' }))));
      }, function (err) {
        cap.refresh();
        throw err;
      });
    }));
    render(h('section.card.narrow', h('h2', { text: '注册通行证' }), form));
    email.focus();
  }

  function pageHome() {
    return loadMe(true).then(function (me) {
      var agreed = meAgreed(me), bound = meBound(me);
      var status = bound ? '已绑定考生报名信息' : '未报名或当前通行证账号非报名时账号';
      var next = !agreed ? '#/agreement' : !bound ? '#/qualify' : '#/registration';
      render(h('section.card', h('h2', { text: '欢迎登录CET考试报名系统' }),
        h('dl.kv',
          h('dt', { text: '考次名称' }), h('dd', { text: sittingName(me) || '—' }),
          h('dt', { text: '当前阶段' }), h('dd', { text: phaseText(me) }),
          h('dt', { text: '通行证账号' }), h('dd', { text: pick(me, 'email') || session.email() }),
          h('dt', { text: '报名状态' }), h('dd', { text: status })),
        h('div.actions', h('a.btn#start', { href: next, text: bound ? '查看报名信息' : '开始报名' }))));
    });
  }

  function pageAgreement() {
    var msg = messageSlot();
    var box = h('input', { type: 'checkbox', id: 'agree' });
    var btn = h('button.btn', { type: 'button', text: '同意', disabled: true });
    box.addEventListener('change', function () { btn.disabled = !box.checked; });
    btn.addEventListener('click', busy(btn, msg, function () {
      return mutate('POST', '/agreement', {}).then(function () {
        state.me = null;
        location.hash = '#/qualify';
      });
    }));
    render(steps(0), h('section.card', h('h2', { text: '报名协议' }),
      h('div.agreement', h('ol', AGREEMENT.map(function (t) { return h('li', { text: t }); }))),
      h('label.check', { for: 'agree' }, box, h('span', { text: '我已阅读并接受遵守本网站报名协议' })),
      msg.el,
      h('div.actions', btn, h('a.btn.btn-secondary', { href: '#/home', text: '不同意' }))));
  }

  /* The roster record and qualified subjects, as a key/value list. */
  function rosterView(r, quals) {
    r = r || {};
    var school = place(pick(r, 'school'), pick(r, 'school_name'));
    var campus = place(pick(r, 'campus'), pick(r, 'campus_name'));
    var gender = pick(r, 'gender', 'sex');
    gender = { male: '男', female: '女', m: '男', f: '女', M: '男', F: '女' }[gender] || gender;
    var edu = pick(r, 'education');
    edu = { bachelor: '本科', associate: '专科', graduate: '研究生' }[edu] || edu;
    var items = [
      ['姓名', pick(r, 'name')], ['性别', gender],
      ['证件类型', idTypeName(pick(r, 'id_type'))], ['证件号码', pick(r, 'id_number', 'id_number_masked')],
      ['资格科目', (quals || []).map(function (s) { return subjectName(s); }).join('；') || '无'],
      ['笔试报名学校', school], ['笔试报名校区', campus],
      ['学历', edu], ['学制', pick(r, 'program_years', 'program_length')],
      ['入学年份', pick(r, 'entry_year')], ['年级', pick(r, 'grade')],
      ['院系', pick(r, 'department')], ['专业', pick(r, 'major')],
      ['班级', pick(r, 'class', 'class_name')], ['学号', pick(r, 'student_number', 'student_no')],
      ['备注', pick(r, 'remarks')]
    ];
    return h('dl.kv', items.map(function (it) {
      var v = it[1];
      return [h('dt', { text: it[0] }), h('dd', { text: v === undefined || v === '' ? '—' : String(v) })];
    }));
  }

  function qualSubjects(obj) {
    var q = pick(obj, 'qualified_subjects', 'subjects', 'qualified');
    if (typeof q === 'string') q = q.split('');
    return Array.isArray(q) ? q : [];
  }

  function pageQualify() {
    return loadMe().then(function (me) {
      if (!meAgreed(me)) { location.hash = '#/agreement'; return; }
      if (meBound(me)) { location.hash = '#/registration'; return; }
      var msg = messageSlot();
      var type = idTypeSelect('id_type');
      var num = input('id_number', 'text', { required: true, autocomplete: 'off', maxlength: '20', placeholder: '请输入证件号码' });
      var name = input('name', 'text', { required: true, autocomplete: 'name', maxlength: '30', placeholder: '请输入姓名' });
      var btn = h('button.btn', { type: 'submit', text: '查询' });
      var result = h('div');
      var form = h('form', { novalidate: true },
        row('证件类型', type, { required: true, hint: '不支持军官证。' }),
        row('证件号码', num, { required: true }), row('姓名', name, { required: true }), msg.el,
        h('div.actions', btn));
      form.addEventListener('submit', busy(btn, msg, function () {
        result.textContent = '';
        var q = { id_type: type.value, id_number: num.value.trim().toUpperCase(), name: name.value.trim() };
        if (!q.id_type || !q.id_number || !q.name) { msg.error('证件类型、证件号码和姓名均为必填项。'); return; }
        var bad = checkIdNumber(q.id_type, q.id_number);
        if (bad) { msg.error(ERROR_TEXT[bad]); return; }
        return mutate('POST', '/qualification', q).then(function (r) {
          msg.ok('查询成功！');
          showQualification(result, q, r);
        });
      }));
      render(steps(1), h('section.card', h('h2', { text: '资格信息查询' }), form), result);
    });
  }

  function showQualification(into, q, r) {
    var roster = pick(r, 'roster', 'record') || r;
    var quals = qualSubjects(r).length ? qualSubjects(r) : qualSubjects(roster);
    var msg = messageSlot();
    var box = h('input', { type: 'checkbox', id: 'confirm' });
    var btn = h('button.btn#bind', { type: 'button', text: '确认报名', disabled: true });
    box.addEventListener('change', function () { btn.disabled = !box.checked; });
    btn.addEventListener('click', busy(btn, msg, function () {
      return mutate('POST', '/candidate', {
        id_type: q.id_type, id_number: q.id_number, name: q.name, confirmed: true
      }).then(function () {
        state.me = null;
        location.hash = '#/registration';
      });
    }));
    var offered = pick(r, 'cet6_review_offered');
    var canBind = pick(r, 'can_bind') !== false;
    if (!canBind) { box.disabled = true; }
    into.textContent = '';
    append(into, h('section.card', h('h2', { text: '资格信息确认' }),
      rosterView(roster, quals),
      offered ? notice('info', '您符合申请CET6资格复核的条件：确认报名后，可在报名信息页面申请CET6资格复核。') : null,
      canBind ? null : notice('warn', '当前为资格查询阶段，报名开放后方可确认报名。'),
      h('label.check', { for: 'confirm' }, box, h('span', { text: '我已检查并确认学籍与资格信息正确' })),
      msg.el,
      h('div.actions', btn, h('a.btn.btn-secondary', { href: '#/home', text: '返回首页' }))));
    into.scrollIntoView();
  }

  /* Normalises a registration record of GET /candidate. */
  function normReg(x) {
    var code = subjectCode(pick(x, 'subject', 'code'));
    var pay = pick(x, 'state', 'payment');
    if (pay && typeof pay === 'object') pay = pick(pay, 'state');
    var paid = pay === 'paid' || pick(x, 'paid') === true;
    var arr = pick(x, 'arrangement', 'arrangement_state');
    if (arr && typeof arr === 'object') arr = pick(arr, 'state');
    var campus = pick(x, 'campus');
    return {
      code: code, name: subjectName(pick(x, 'subject'), pick(x, 'subject_name', 'name')),
      oral: pick(x, 'kind') ? pick(x, 'kind') === 'oral' : isOral(code),
      campus: placeCode(campus), campusText: place(campus, pick(x, 'campus_name')),
      fee: pick(x, 'fee', 'amount'), paid: paid, pay: pay || (paid ? 'paid' : 'unpaid'),
      arranged: arr === 'arranged', locked: !!pick(x, 'locked'),
      pending: !!pick(x, 'order_id', 'pending_order') && !paid,
      expires: pick(x, 'expires_at'), ticket: pick(x, 'admission_ticket', 'ticket_number')
    };
  }

  /* The registrations of GET /candidate: written then oral. */
  function regsOf(c) {
    var regs = pick(c, 'registrations');
    if (Array.isArray(regs)) return regs;
    if (regs && typeof regs === 'object') c = regs;
    return [].concat(pick(c, 'written') || [], pick(c, 'oral') || []);
  }

  function payBadge(r) {
    if (r.paid) return h('span.badge.state-paid', { text: '已缴费' });
    if (r.pending) return h('span.badge.state-other', { text: '支付处理中' });
    if (r.locked) return h('span.badge.state-other', { text: '学校集体缴费' });
    return h('span.badge.state-unpaid', { text: '待缴费' });
  }

  function pageRegistration() {
    /* Back from the payment platform: show the order's outcome first (once). */
    var po = readPendingOrder();
    if (po && !po.shown) {
      po.shown = true;
      sessionStorage.setItem(ORDER_KEY, JSON.stringify(po));
      location.hash = '#/pay/' + encodeURIComponent(po.order_id);
      return;
    }
    return Promise.all([loadMe(true), api('GET', '/candidate')]).then(function (res) {
      var me = res[0], c = res[1];
      var personal = pick(c, 'candidate', 'personal') || {};
      var roster = pick(c, 'roster', 'roster_snapshot') || personal;
      var quals = qualSubjects(c).length ? qualSubjects(c) : qualSubjects(roster);
      var regs = regsOf(c).map(normReg);
      var unpaidFen = pick(c, 'unpaid', 'amount_unpaid');
      if (unpaidFen && typeof unpaidFen === 'object') unpaidFen = pick(unpaidFen, 'total');
      if (typeof unpaidFen !== 'number') {
        unpaidFen = regs.filter(function (r) { return !r.paid; })
          .reduce(function (s, r) { return s + (r.fee || 0); }, 0);
      }
      var msg = messageSlot();
      var review = pick(c, 'cet6_review') || pick(me, 'cet6_review');
      if (review && typeof review === 'object') review = pick(review, 'state');
      var reviewOffered = pick(c, 'cet6_review_offered') || pick(me, 'cet6_review_offered');

      /* registrations table with per-row cancel and pay checkboxes */
      var payBoxes = [];
      var table = h('table.data#registrations',
        h('thead', h('tr', ['科目', '校区', '费用', '缴费状态', '编排状态', '保留至', '操作'].map(function (t) {
          return h('th', { text: t });
        }))),
        h('tbody', regs.length ? regs.map(function (r) {
          var box = null, cancel = null;
          if (!r.paid && !r.locked && !r.pending) {
            box = h('input', { type: 'checkbox', value: r.code, checked: true, 'aria-label': '缴费：' + r.name });
            box.dataset.fee = String(r.fee || 0);
            payBoxes.push(box);
            cancel = h('button.btn.btn-danger.btn-small', { type: 'button', text: '取消报考' });
            cancel.addEventListener('click', busy(cancel, msg, function () {
              var extra = r.oral ? '' : '取消笔试科目会同时取消其未缴费的口试科目。';
              if (!window.confirm('确定取消报考“' + r.name + '”吗？' + extra)) return;
              return mutate('DELETE', '/registrations/' + encodeURIComponent(r.code), undefined)
                .then(function () { route(); });
            }));
          }
          return h('tr', { 'data-subject': r.code },
            h('td', { 'data-label': '科目' }, box, box ? ' ' : null, r.name),
            h('td', { 'data-label': '校区', text: r.campusText || '—' }),
            h('td.amount', { 'data-label': '费用', text: money(r.fee) }),
            h('td', { 'data-label': '缴费状态' }, payBadge(r)),
            h('td', { 'data-label': '编排状态', text: r.arranged ? '已编排' + (r.ticket ? '（准考证号 ' + r.ticket + '）' : '') : '未编排' }),
            h('td', { 'data-label': '保留至', text: r.paid || r.locked ? '—' : when(r.expires) }),
            h('td', { 'data-label': '操作' }, cancel || '—'));
        }) : h('tr', h('td', { colspan: '7', text: '尚未报考任何科目。' }))));

      var payTotal = h('span.amount#pay-total');
      function updateTotal() {
        var s = payBoxes.filter(function (b) { return b.checked; })
          .reduce(function (a, b) { return a + (parseInt(b.dataset.fee, 10) || 0); }, 0);
        payTotal.textContent = money(s);
        payBtn.disabled = s === 0 && !payBoxes.some(function (b) { return b.checked; });
      }
      var channel = h('select#channel', PAY_CHANNELS.map(function (c2) { return h('option', { value: c2[0], text: c2[1] }); }));
      var payBtn = h('button.btn#pay', { type: 'button', text: '去缴费' });
      payBoxes.forEach(function (b) { b.addEventListener('change', updateTotal); });
      payBtn.addEventListener('click', busy(payBtn, msg, function () {
        var subjects = payBoxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
        if (!subjects.length) { msg.error(ERROR_TEXT.nothing_to_pay); return; }
        return mutate('POST', '/payments', { subjects: subjects, channel: channel.value }).then(function (o) {
          goPay(o);
        });
      }));

      var ann = pick(c, 'announcements') || [];
      var announcements = [];
      if (Array.isArray(ann)) announcements = ann;
      else if (typeof ann === 'object') {
        if (ann.province) announcements.push({ title: 'province', text: ann.province });
        if (ann.school) announcements.push({ title: 'school', text: ann.school });
      } else if (ann) announcements = [ann];

      var hasWritten = regs.some(function (r) { return !r.oral; });
      var pendingOrder = readPendingOrder();

      render(steps(regs.some(function (r) { return r.paid; }) ? 5 : regs.length ? 4 : 3),
        pendingOrder ? notice('info', '您有一笔支付订单（' + pendingOrder.order_id + '）等待确认。')
          : null,
        pendingOrder ? h('p', h('a.btn.btn-secondary', { href: '#/pay/' + encodeURIComponent(pendingOrder.order_id), text: '查看支付结果' })) : null,
        h('section.card#reg-page', h('h2', { text: '报名信息' }),
          h('dl.kv',
            h('dt', { text: '考次名称' }), h('dd', { text: sittingName(me) || '—' }),
            h('dt', { text: '通行证账号' }), h('dd', { text: pick(me, 'email') || session.email() })),
          h('h3', { text: '考生信息' }),
          rosterView(Object.assign({}, roster, personal), quals),
          reviewOffered || review ? h('p', h('a#review-link', { href: '#/review', text: 'CET6资格复核' }),
            review ? '：' + (REVIEW_STATE_TEXT[review] || review) : '') : null),
        h('section.card', h('h2', { text: '报考科目' }), table,
          h('p.total', '待缴费合计：', h('span.amount#unpaid-total', { text: money(unpaidFen) })),
          msg.el,
          payBoxes.length ? h('div.form-row', h('label', { for: 'channel', text: '支付方式' }), channel) : null,
          payBoxes.length ? h('p', '本次缴费：', payTotal) : null,
          h('div.actions',
            payBoxes.length ? payBtn : null,
            h('a.btn.btn-secondary#add-written', { href: '#/written', text: '报考笔试科目' }),
            hasWritten ? h('a.btn.btn-secondary#add-oral', { href: '#/oral', text: '报考口试科目' }) : null,
            h('a.btn.btn-secondary#tickets-link', { href: 'tickets.html', text: '准考证打印' })), /* tickets.js */
          h('p.muted', { text: '未缴费的科目自报考起保留24小时，逾期未缴费将自动删除并释放考位；只有缴费成功的科目才算报名成功。' })),
        announcements.length ? h('section.card', h('h2', { text: '通告' }), announcements.map(function (a) {
          var title = typeof a === 'object' ? pick(a, 'title', 'scope') : '';
          var text = typeof a === 'object' ? pick(a, 'text', 'body', 'content') : a;
          var scope = { province: '省通告', school: '学校通告' }[title] || title;
          return [scope ? h('h3', { text: scope }) : null, h('div.announcement', { text: text || '' })];
        })) : null);
      updateTotal();
    });
  }

  function goPay(order) {
    var o = { order_id: String(order.order_id), amount: order.amount, pay_url: order.pay_url,
      expires_at: order.expires_at };
    sessionStorage.setItem(ORDER_KEY, JSON.stringify(o));
    var back = location.origin + location.pathname + '#/pay/' + encodeURIComponent(o.order_id);
    var url = o.pay_url || '';
    if (!url) { location.hash = '#/pay/' + encodeURIComponent(o.order_id); return; }
    /* Ask the payment platform to send the candidate back here afterwards. */
    if (!/[?&]return_url=/.test(url)) {
      url += (url.indexOf('?') < 0 ? '?' : '&') + 'return_url=' + encodeURIComponent(back);
    }
    location.href = url;
  }

  function readPendingOrder() {
    try { return JSON.parse(sessionStorage.getItem(ORDER_KEY) || 'null'); } catch (e) { return null; }
  }

  function orderState(o) {
    var s = pick(o, 'state', 'status');
    return typeof s === 'string' ? s : '';
  }

  var pollToken = 0;
  function pagePay(orderId) {
    var my = ++pollToken;
    var msg = messageSlot();
    var status = h('div#pay-status');
    var saved = readPendingOrder();
    var retry = h('a.btn.btn-secondary', { href: saved && saved.pay_url ? saved.pay_url : '#/registration', text: '返回支付页面' });
    render(steps(4), h('section.card', h('h2', { text: '缴费结果' }),
      h('dl.kv', h('dt', { text: '订单号' }), h('dd#order-id', { text: orderId }),
        h('dt', { text: '金额' }), h('dd', { text: saved && String(saved.order_id) === orderId ? money(saved.amount) : '—' })),
      status, msg.el,
      h('div.actions', h('a.btn#back-to-registration', { href: '#/registration', text: '查看报名信息' }),
        saved && saved.pay_url ? retry : null)));
    var rounds = 0;
    function tick() {
      if (my !== pollToken) return;
      return api('GET', '/payments/' + encodeURIComponent(orderId)).then(function (o) {
        if (my !== pollToken) return;
        var s = orderState(o);
        status.textContent = '';
        if (s === 'paid') {
          sessionStorage.removeItem(ORDER_KEY);
          append(status, notice('ok', '缴费成功，金额 ' + money(pick(o, 'amount')) + '。所缴科目报名成功。'));
          return;
        }
        if (s === 'expired' || s === 'closed' || s === 'refund' || s === 'failed') {
          sessionStorage.removeItem(ORDER_KEY);
          append(status, notice('error', s === 'refund'
            ? '支付在订单超时后才到账，该笔款项将按规定退款，请重新缴费。'
            : '该支付订单已关闭（未在规定时间内完成支付），请返回报名信息页面重新缴费。'));
          return;
        }
        append(status, notice('info', '正在等待支付平台确认支付结果……如已完成支付，请稍候；本页面会自动刷新。'));
        if (++rounds < POLL_ROUNDS_MAX) return sleep(POLL_INTERVAL_MS).then(tick);
        append(status, notice('warn', '暂未收到支付结果，请稍后在报名信息页面查看。'));
      }, function (e) {
        if (my !== pollToken) return;
        msg.error(e);
        if (transient(e) && ++rounds < POLL_ROUNDS_MAX) return sleep(POLL_INTERVAL_MS * 2).then(tick);
      });
    }
    tick();
  }

  /* Offers of one kind, as a list the candidate picks from. */
  function offersOf(r) {
    var list = Array.isArray(r) ? r : pick(r, 'offers', 'items') || [];
    return list.map(function (o) {
      var campus = pick(o, 'campus'), school = pick(o, 'school');
      var schoolName = school && typeof school === 'object' ? pick(school, 'name') : pick(o, 'school_name');
      var win = pick(o, 'window');
      var code = subjectCode(pick(o, 'code', 'subject'));
      return {
        code: code, name: subjectName(pick(o, 'subject'), pick(o, 'name', 'subject_name')),
        fee: pick(o, 'fee'), campus: placeCode(campus), campusText: place(campus, pick(o, 'campus_name')),
        schoolName: schoolName, registered: !!pick(o, 'registered'),
        opens: pick(o, 'window_opens') || pick(win || {}, 'opens', 'start'),
        closes: pick(o, 'window_closes') || pick(win || {}, 'closes', 'end'),
        exam: pick(o, 'exam_date'), seats: pick(o, 'seats') || 'green'
      };
    });
  }

  function seatBadge(s) {
    if (s === 'none' || s === 'red') return h('span.badge.seat-none', { text: '无' });
    if (s === 'yellow') return h('span.badge.seat-yellow', { text: '紧张' });
    return h('span.badge.seat-green', { text: '充足' });
  }

  function pageOffers(kind) {
    var oral = kind === 'oral';
    return Promise.all([api('GET', '/offers?kind=' + kind), api('GET', '/candidate')]).then(function (res) {
      var offers = offersOf(res[0]);
      var taken = {};
      regsOf(res[1]).map(normReg).forEach(function (r) { taken[r.code] = true; });
      var msg = messageSlot();
      var rows = offers.map(function (o) {
        var full = o.seats === 'none' || o.seats === 'red';
        var btn = null;
        if (taken[o.code] || o.registered) {
          btn = h('span.badge.state-other', { text: '已报考' });
        } else {
          btn = h('button.btn.btn-small', {
            type: 'button', text: full ? '无考位' : '报考', disabled: full,
            'data-subject': o.code, 'data-campus': String(o.campus)
          });
          btn.addEventListener('click', busy(btn, msg, function () {
            return mutate('POST', '/registrations', { subject: o.code, campus: o.campus }).then(function (r) {
              render(steps(3), h('section.card', h('h2', { text: '报考成功' }),
                notice('ok', '已报考“' + o.name + '”，费用 ' + money(pick(r, 'fee') !== undefined ? r.fee : o.fee) +
                  '。请在 ' + when(pick(r, 'expires_at')) + ' 前完成缴费，逾期未缴费将自动取消。'),
                h('div.actions', h('a.btn#to-registration', { href: '#/registration', text: '查看报名信息并缴费' }),
                  !oral ? h('a.btn.btn-secondary', { href: '#/oral', text: '继续报考口试' }) : null)));
            });
          }));
        }
        return h('tr' + (full ? '.disabled' : ''), { 'data-subject': o.code, 'data-campus': String(o.campus) },
          h('td', { 'data-label': '科目', text: o.name }),
          oral ? h('td', { 'data-label': '校区', text: o.campusText + (o.schoolName ? ' · ' + o.schoolName : '') }) : null,
          h('td.amount', { 'data-label': '费用', text: money(o.fee) }),
          h('td', { 'data-label': '考试日期', text: day(o.exam) }),
          h('td', { 'data-label': '报名时间', text: when(o.opens) + ' 至 ' + when(o.closes) }),
          oral ? h('td', { 'data-label': '剩余考位' }, seatBadge(o.seats)) : null,
          h('td', { 'data-label': '操作' }, btn));
      });
      var heads = oral ? ['科目', '校区', '费用', '考试日期', '报名时间', '剩余考位', '操作']
        : ['科目', '费用', '考试日期', '报名时间', '操作'];
      render(steps(3), h('section.card', h('h2', { text: oral ? '报考口试科目' : '报考笔试科目' }),
        oral ? h('p.muted', '剩余考位：', seatBadge('green'), ' 充足（剩余一半以上） ', seatBadge('yellow'),
          ' 紧张（剩余不足一半） ', seatBadge('none'), ' 已满，不可选择。报考口试须先报考同语种、同级别的笔试。')
          : h('p.muted', { text: '只能报考您有资格的科目；同一级别的笔试只能报考一个科目。' }),
        offers.length ? h('table.data#offers', h('thead', h('tr', heads.map(function (t) { return h('th', { text: t }); }))),
          h('tbody', rows)) : notice('info', oral ? '当前没有可报考的口试科目。' : '当前没有可报考的笔试科目。'),
        msg.el,
        h('div.actions', h('a.btn.btn-secondary', { href: '#/registration', text: '返回报名信息' }))));
    });
  }

  function pageReview() {
    return api('GET', '/cet6-review').then(function (r) { return r; }, function (e) {
      if (e.code === 'review_not_found' || e.status === 404) return null;
      throw e;
    }).then(function (review) {
      var msg = messageSlot();
      var st = review && pick(review, 'state');
      var parts = [h('h2', { text: 'CET6资格复核' })];
      if (review) {
        parts.push(h('dl.kv',
          h('dt', { text: '复核状态' }), h('dd#review-state', { text: REVIEW_STATE_TEXT[st] || st || '—' }),
          h('dt', { text: '准考证号' }), h('dd', { text: pick(review, 'ticket_number', 'ticket') || '—' }),
          h('dt', { text: '姓名' }), h('dd', { text: pick(review, 'name') || '—' }),
          h('dt', { text: '提交时间' }), h('dd', { text: when(pick(review, 'created_at')) })));
        if (st === 'pending') parts.push(notice('info', '复核申请已提交，等待学校审核。待审核的申请不能修改或撤回。'));
        if (st === 'approved' || st === 'auto_approved') {
          parts.push(notice('ok', '复核已通过，英语六级笔试已加入您的资格科目。'));
        }
      }
      if (!review || st === 'rejected') {
        if (st === 'rejected') parts.push(notice('warn', '复核未通过。您可以修改后重新提交，或删除该申请。'));
        var ticket = input('ticket_number', 'text', {
          inputmode: 'numeric', maxlength: '15', autocomplete: 'off', placeholder: '15位CET4准考证号',
          value: review && /^\d{15}$/.test(pick(review, 'ticket_number') || '') ? review.ticket_number : ''
        });
        var box = h('input', { type: 'checkbox', id: 'review-confirm' });
        var btn = h('button.btn#review-submit', { type: 'submit', text: review ? '重新提交' : '提交申请', disabled: true });
        box.addEventListener('change', function () { btn.disabled = !box.checked; });
        var form = h('form', { novalidate: true },
          row('CET4准考证号', ticket, { required: true, hint: 'CET4笔试成绩为2005年之前的考生，请联系学校相关负责人代为申请。' }),
          h('label.check', { for: 'review-confirm' }, box, h('span', { text: '我确认提交复核的信息所有者为本人，且准确无误' })),
          msg.el, h('div.actions', btn,
            review ? (function () {
              var del = h('button.btn.btn-danger#review-delete', { type: 'button', text: '删除申请' });
              del.addEventListener('click', busy(del, msg, function () {
                if (!window.confirm('确定删除该复核申请吗？')) return;
                return mutate('DELETE', '/cet6-review', undefined).then(function () { route(); });
              }));
              return del;
            })() : null,
            h('a.btn.btn-secondary', { href: '#/registration', text: '返回报名信息' })));
        form.addEventListener('submit', busy(btn, msg, function () {
          var t = ticket.value.trim();
          if (!/^\d{15}$/.test(t)) { msg.error(ERROR_TEXT.ticket_invalid); return; }
          return mutate(review ? 'PUT' : 'POST', '/cet6-review', { ticket_number: t, confirmed: true })
            .then(function () { state.me = null; route(); });
        }));
        parts.push(form);
      } else {
        parts.push(h('div.actions', h('a.btn.btn-secondary', { href: '#/registration', text: '返回报名信息' })));
      }
      render(h('section.card', parts));
    });
  }

  /* ---------------------------------------------------------------- router */

  var PUBLIC = { login: true, register: true };

  function route() {
    pollToken++;
    var parts = (location.hash.replace(/^#\/?/, '') || 'home').split('/');
    var name = parts[0];
    showUser();
    if (!PUBLIC[name] && !session.token()) {
      if (name === 'pay') sessionStorage.setItem('cet.afterLogin', location.hash);
      location.hash = '#/login';
      return;
    }
    var pages = {
      login: pageLogin, register: pageRegister, home: pageHome, agreement: pageAgreement,
      qualify: pageQualify, registration: pageRegistration, review: pageReview,
      written: function () { return pageOffers('written'); },
      oral: function () { return pageOffers('oral'); },
      pay: function () { return pagePay(decodeURIComponent(parts[1] || '')); }
    };
    var page = pages[name] || pageHome;
    Promise.resolve().then(page).catch(function (e) {
      if (e && e.code === 'agreement_required') { location.hash = '#/agreement'; return; }
      if (e && e.code === 'not_bound' && name !== 'qualify') { location.hash = '#/qualify'; return; }
      if (e && e.status === 401) return;
      render(h('section.card', h('h2', { text: '出错了' }), notice('error', errorText(e), e && e.code),
        h('div.actions', h('button.btn', { type: 'button', text: '重试', onclick: route }),
          h('a.btn.btn-secondary', { href: '#/home', text: '返回首页' }))));
    });
  }

  $('#logout').addEventListener('click', function () {
    var done = function () { session.clear(); location.hash = '#/login'; route(); };
    api('DELETE', '/sessions').then(done, done);
  });

  window.addEventListener('hashchange', route);
  route();
})();
