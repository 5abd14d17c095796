/*
 * cetreg candidate pages: a single-page app with hash routes, plain ES2017,
 * no build step, no dependencies. Talks to cetd through the h2o edge at
 * /api/v1 (docs/openapi.yaml). Server text is always put into the page as text
 * (never as HTML).
 *
 * The pages follow the official candidate guide, step by step:
 *   #/login #/register          考生登录, 注册通行证 (guide steps 1-2)
 *   #/home                      欢迎登录: sitting, exam days, print date, 开始报名 (3)
 *   #/agreement                 报名协议 (4)
 *   #/qualify                   资格信息查询, then 资格信息确认 with CET6资格复核 (5-8)
 *   #/written                   笔试报考, with the province and school announcements (9-10)
 *   #/registration              报名信息: written and oral tables, 支付 (11, 14-15)
 *   #/oral                      口试报考 (12-13)
 *   #/review                    the registration page with the CET6资格复核 dialog open (7)
 *   #/pay/<order_id>            支付结果, after the payment platform (16)
 * A button that the server can only refuse is disabled, with the reason beside
 * it; a refusal is shown in Chinese next to the button that caused it.
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
    storage_full: '服务器存储空间暂时不足，您的操作未被保存，请稍后重试。',
    sheet_unreadable: '无法读取该文件：请上传 CSV（UTF-8 或 GBK）或 Excel .xlsx 文件。',
    sheet_too_large: '文件太大，请分批上传。',
    sheet_empty: '文件中没有数据行。',
    invalid_encoding: '文件编码无法识别：请另存为 UTF-8 或 GBK 编码的 CSV，或 .xlsx 文件。',
    bad_quoting: '文件中有引号不配对的行，请检查该行。',
    row_too_long: '该行过长，请检查该行内容。',
    field_count: '该行的列数与表头不一致。',
    unknown_column: '表头中有无法识别的列名，请使用模板中的列名。',
    duplicate_column: '表头中有重复的列。',
    missing_column: '缺少必填的列，请使用模板中的表头。',
    excel_number: '该值已被 Excel 转成科学计数法（如 1.10108E+17），数字已丢失：请将该列设置为“文本”格式后重新填写。',
    roster_refused: '名单文件有错误行，整个文件未导入，请按行号修改后重新上传。',
    roster_other_school: '名单中有不属于本校的考生记录，整个文件未导入。',
    campus_not_found: '没有这个校区。',
    duplicate_row: '文件中有重复的考生记录。',
    announcement_not_found: '该公告不存在或已删除。',
    export_unknown: '没有这种导出内容。',
    capacity_below_live: '设定的容量少于该校区此科目已有的报名数（含未支付、已锁定和支付中的），不能调低到该数值以下。',
    one_per_level: '同一级别的笔试只能报考一个科目（例如英语四级与日语四级不能同时报考）。',
    already_registered: '您已报考该科目，无需重复报考。',
    too_many_registrations: '报考科目数已达上限，不能再报考。',
    oral_needs_written: '必须先完成同级别笔试科目的报考，才可以报考口试；口试科目须与其笔试一同支付或在笔试支付后支付。',
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
    /* admission tickets (tickets.js, admin/tickets.js) */
    window_open: '该科目报名尚未截止，截止后才能编排考场。',
    not_enough_seats: '考场座位不足，请增加考场或座位后重新编排。',
    not_paid: '该科目尚未缴费，缴费成功后方可打印准考证。',
    not_arranged: '该科目尚未编排考场，请稍后再试。',
    print_not_open: '尚未到准考证打印时间。',
    account_not_found: '没有该通行证ID的账号，请核对后重试。',
    recovery_not_found: '最近考次没有与该证件类型、证件号码和姓名对应的报名账号，请核对后重试，或联系所在学校。',
    record_not_bound: '该学籍信息尚未绑定任何通行证账号。',
    reset_token_used: '该重置密码链接已经使用过，请重新找回密码。',
    reset_token_invalid: '重置密码链接无效，请从邮件中完整复制链接，或重新找回密码。',
    reset_token_expired: '重置密码链接已过期（30分钟内有效），请重新找回密码。',
    /* the page's own (not from cetd) */
    network: '网络连接失败，请检查网络后重试。',
    gateway: '服务器繁忙或暂时不可用，请稍后重试。'
  };

  var FIELD_TEXT = {
    email: '邮箱', password: '密码', captcha_answer: '验证码', captcha_id: '验证码',
    id_type: '证件类型', id_number: '证件号码', name: '姓名', ticket_number: '准考证号',
    subject: '科目', campus: '校区', subjects: '科目', channel: '支付方式', confirmed: '确认',
    new_email: '新电子邮箱', new_password: '新密码', token: '重置链接', to_account_id: '通行证ID'
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

  /* The guide's platform offers 支付宝 and 首信易支付 (bank gateway). */
  var PAY_CHANNELS = [['alipay', '支付宝'], ['bank', '首信易支付（网上银行）']];
  function channelName(c) {
    for (var i = 0; i < PAY_CHANNELS.length; i++) if (PAY_CHANNELS[i][0] === c) return PAY_CHANNELS[i][1];
    return { wechat: '微信支付', unionpay: '银联在线支付' }[c] || '其他支付方式';
  }

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
  /* append(el, child...): nodes, strings, arrays of them; null/false skipped. */
  function append(el, c) {
    if (arguments.length > 2) {
      for (var i = 1; i < arguments.length; i++) append(el, arguments[i]);
      return;
    }
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

  function yuan(fen) {
    if (typeof fen !== 'number' || !isFinite(fen)) return '—';
    return (fen / 100).toFixed(2);
  }
  function money(fen) { return yuan(fen) === '—' ? '—' : yuan(fen) + ' 元'; }
  /* An amount or a date as one unbreakable span (the desk tables never wrap it). */
  function moneySpan(fen) { return h('span.money', { text: yuan(fen) }); }
  function dateSpan(t, dayOnly) { return h('span.date', { text: dayOnly ? day(t) : when(t) }); }

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
      state.qual = null;
    }
  };

  var state = { me: null, qual: null };
  /* a one-time message for the next render of 报名信息 (after a cancellation) */
  var flash = '';

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
        /* a wrong current password (修改资料, 修改密码) is 401 invalid_credentials
           too, but the session still holds: only a dead token logs out */
        if (e.status === 401 && path !== '/sessions' && e.code !== 'invalid_credentials') {
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

  /*
   * Refusals beside the field they are about (the ID number, the email, ...):
   * fe.set(input, text or ApiError) puts a notice under the input in its
   * form-row; fe.route(e, byField, byCode) does that for a server refusal
   * naming a field or a field's code, and returns false for any other (shown
   * by the form's own slot); fe.clear() removes them all.
   */
  function fieldErrors() {
    var shown = [];
    var fe = {
      clear: function () {
        shown.forEach(function (s) {
          if (s.el.parentNode) s.el.parentNode.removeChild(s.el);
          s.input.removeAttribute('aria-invalid');
        });
        shown = [];
      },
      set: function (input, e) {
        var rowEl = input.closest('.form-row') || input.parentNode;
        var n = typeof e === 'string' ? notice('error', e) : notice('error', errorText(e), e && e.code);
        n.classList.add('field-notice');
        rowEl.appendChild(n);
        input.setAttribute('aria-invalid', 'true');
        shown.push({ el: n, input: input });
        input.focus();
      },
      route: function (e, byField, byCode) {
        var input = (e && e.field && byField && byField[e.field]) || (e && byCode && byCode[e.code]);
        if (!input) return false;
        fe.set(input, e);
        return true;
      }
    };
    return fe;
  }

  /* Runs fn with the button disabled; shows errors in msg (next to the button). */
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
        btn.disabled = !!btn.dataset.keepDisabled;
        btn.textContent = label;
      });
    };
  }

  /* A button the server could only refuse: disabled, the reason beside it. */
  function blocked(btn, reason) {
    btn.disabled = true;
    var why = h('span.reason', { text: reason });
    btn.title = reason;
    return h('span.blocked', btn, why);
  }

  /* The guide's page names, in its order. */
  var STEP_NAMES = ['报名协议', '资格信息查询', '资格信息确认', '笔试报考', '口试报考', '报名信息', '支付'];
  var STEP = { agreement: 0, query: 1, confirm: 2, written: 3, oral: 4, registration: 5, pay: 6 };
  function steps(current) {
    return h('ol.steps', { 'aria-label': '报名流程' }, STEP_NAMES.map(function (n, i) {
      return h('li' + (i < current ? '.done' : i === current ? '.current' : ''),
        i === current ? { 'aria-current': 'step', text: n } : { text: n });
    }));
  }

  /* The header: 姓名 (the bound candidate's, masked by the server) and 考次. */
  function showUser() {
    var bar = $('#userbar');
    if (!session.token()) { bar.hidden = true; return; }
    bar.hidden = false;
    var me = state.me;
    var cand = me && pick(me, 'candidate');
    $('#userbar-name').textContent = cand && cand.name ? cand.name : '未设置';
    $('#userbar-sitting').textContent = (me && sittingName(me)) || '—';
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

  /* Loads /me; state.me caches it until a change. */
  function loadMe(force) {
    if (state.me && !force) return Promise.resolve(state.me);
    return api('GET', '/me').then(function (me) { state.me = me; showUser(); return me; });
  }

  function meAgreed(me) { return !!pick(me, 'agreed'); }
  function meBound(me) { return !!pick(me, 'bound'); }
  function sitting(me) { var s = pick(me, 'sitting'); return s && typeof s === 'object' ? s : {}; }
  function sittingName(me) { return pick(sitting(me), 'name') || ''; }
  function phaseOf(me) { return String(pick(me, 'phase') || 'none'); }
  function phaseText(me) {
    var t = { none: '暂无考次', before_lookup: '尚未开始', lookup: '资格查询阶段（尚未开放报名）',
      open: '报名进行中', closed: '报名已结束', print: '准考证打印阶段' };
    return t[phaseOf(me)] || phaseOf(me);
  }
  /* Why the registration window refuses now (window_closed), or '' when it is open. */
  function windowReason(me) {
    var s = sitting(me), p = phaseOf(me);
    if (p === 'open') return '';
    if (p === 'before_lookup' || p === 'lookup') {
      return '尚未到考生网上报名时间（' + when(pick(s, 'registration_opens')) + ' 开始）。';
    }
    return '考生网上报名时间已结束（' + when(pick(s, 'registration_closes')) + '）。';
  }

  /* ---------------------------------------------------------------- dialogs */

  /*
   * An in-page dialog (not window.confirm: the guide's 提示 boxes, and one a
   * screenshot can show). body: nodes; buttons: [[label, fn(close), opts]].
   * Returns {el, close}. fn may return a promise; its refusal shows in the dialog.
   */
  var openDialog = null;
  function dialog(title, body, buttons, opts) {
    opts = opts || {};
    if (openDialog) openDialog.close();
    var msg = messageSlot();
    var box = h('div.dialog', { role: 'dialog', 'aria-modal': 'true', 'aria-label': title, id: opts.id || null },
      h('h2', { text: title }), h('div.dialog-body', body), msg.el);
    var overlay = h('div.overlay', box);
    var d = {
      el: box, msg: msg,
      close: function () {
        if (overlay.parentNode) overlay.parentNode.removeChild(overlay);
        if (openDialog === d) openDialog = null;
        document.removeEventListener('keydown', onKey);
        if (opts.onClose && !d.quiet) opts.onClose();
      }
    };
    function onKey(ev) { if (ev.key === 'Escape') d.close(); }
    var actions = h('div.actions');
    (buttons || []).forEach(function (b) {
      var btn = h('button.btn' + (b[2] && b[2].secondary ? '.btn-secondary' : ''),
        { type: 'button', text: b[0], id: b[2] && b[2].id || null });
      btn.addEventListener('click', b[1] ? busy(btn, msg, function () { return b[1](d); }) : d.close);
      if (b[2] && b[2].disabledReason) append(actions, blocked(btn, b[2].disabledReason));
      else append(actions, btn);
    });
    box.appendChild(actions);
    overlay.addEventListener('click', function (ev) { if (ev.target === overlay) d.close(); });
    document.addEventListener('keydown', onKey);
    document.body.appendChild(overlay);
    openDialog = d;
    var first = box.querySelector('input, button:not([disabled])');
    if (first) first.focus();
    return d;
  }

  /* ---------------------------------------------------------------- login, register */

  function pageLogin() {
    if (session.token()) { location.hash = '#/home'; return; }
    var msg = messageSlot();
    var email = input('email', 'email', { autocomplete: 'username', required: true, placeholder: '注册时使用的邮箱' });
    var pw = input('password', 'password', { autocomplete: 'current-password', required: true });
    var cap = captcha();
    var btn = h('button.btn', { type: 'submit', text: '登录' });
    var reset = h('button.btn.btn-secondary', { type: 'reset', text: '重置' });
    var fe = fieldErrors();
    var form = h('form', { novalidate: true },
      row('账号', email, { required: true, hint: '通行证账号为注册时的电子邮箱。' }), row('密码', pw, { required: true }), cap.el,
      msg.el, h('div.actions', btn, reset));
    form.addEventListener('reset', function () { msg.clear(); fe.clear(); });
    form.addEventListener('submit', busy(btn, msg, function () {
      fe.clear();
      var e = email.value.trim();
      if (!e) { fe.set(email, '请输入账号（注册时的电子邮箱）。'); return; }
      if (!pw.value) { fe.set(pw, '请输入密码。'); return; }
      if (!cap.answer.value.trim()) { fe.set(cap.answer, '请输入验证码。'); return; }
      return mutate('POST', '/sessions', {
        email: e, password: pw.value, captcha_id: cap.id, captcha_answer: cap.answer.value.trim()
      }).then(function (r) {
        session.set(r.token, e);
        state.me = null;
        var after = sessionStorage.getItem('cet.afterLogin');
        sessionStorage.removeItem('cet.afterLogin');
        location.hash = after || '#/home';
      }, function (err) {
        cap.refresh();
        if (fe.route(err, { email: email, captcha_answer: cap.answer, captcha_id: cap.answer },
          { captcha_invalid: cap.answer, invalid_email: email })) return;
        throw err;
      });
    }));
    render(h('section.card.narrow', h('h2', { text: '考生登录' }), form,
      h('p', '没有通行证？', h('a#to-register', { href: '#/register', text: '点击注册' })),
      h('p.muted', h('a#to-forgot', { href: '#/forgot', text: '找回密码' }), ' · ',
        h('a#to-recover', { href: '#/recover', text: '找回账号' }), ' · ',
        h('a', { href: '#/faq', text: '常见问题' }))));
    email.focus();
  }

  function pageRegister() {
    var msg = messageSlot();
    var email = input('email', 'email', { autocomplete: 'email', required: true, placeholder: 'name@example.com' });
    var pw = input('password', 'password', { autocomplete: 'new-password', required: true });
    var pw2 = input('password2', 'password', { autocomplete: 'new-password', required: true });
    var cap = captcha();
    var btn = h('button.btn', { type: 'submit', text: '提交' });
    var form = h('form', { novalidate: true },
      row('电子邮箱', email, { required: true, hint: '邮箱即通行证账号，用于登录和找回密码。' }),
      row('密码', pw, { required: true, hint: '8至128位，须同时包含字母和数字。' }),
      row('确认密码', pw2, { required: true }), cap.el, msg.el,
      h('div.actions', btn, h('a.btn.btn-secondary', { href: '#/login', text: '返回登录' })));
    var fe = fieldErrors();
    form.addEventListener('submit', busy(btn, msg, function () {
      fe.clear();
      var e = email.value.trim();
      if (!e) { fe.set(email, '请输入电子邮箱。'); return; }
      if (!/^[^@\s]+@[^@\s]+$/.test(e)) { fe.set(email, ERROR_TEXT.invalid_email); return; }
      if (pw.value.length < 8 || !/[A-Za-z]/.test(pw.value) || !/\d/.test(pw.value)) {
        fe.set(pw, ERROR_TEXT.weak_password); return;
      }
      if (pw.value !== pw2.value) { fe.set(pw2, '两次输入的密码不一致。'); return; }
      if (!cap.answer.value.trim()) { fe.set(cap.answer, '请输入验证码。'); return; }
      return mutate('POST', '/accounts', {
        email: e, password: pw.value, captcha_id: cap.id, captcha_answer: cap.answer.value.trim()
      }).then(function () {
        render(h('section.card.narrow', h('h2', { text: '注册成功' }),
          notice('ok', '通行证账号 ' + e + ' 已注册，请登录后开始报名。'),
          h('div.actions', h('a.btn', { href: '#/login', text: '去登录' }))));
      }, function (err) {
        cap.refresh();
        if (fe.route(err, { email: email, password: pw, captcha_answer: cap.answer, captcha_id: cap.answer },
          { email_taken: email, invalid_email: email, weak_password: pw, captcha_invalid: cap.answer })) return;
        throw err;
      });
    }));
    render(h('section.card.narrow', h('h2', { text: '注册通行证' }), form));
    email.focus();
  }

  /* ---------------------------------------------------------------- home (guide step 3) */

  function kvTable(items, id) {
    return h('table.kvt' + (id ? '#' + id : ''), h('tbody', items.map(function (it) {
      return h('tr', h('th', { scope: 'row', text: it[0] }),
        h('td', it[1] instanceof Node || Array.isArray(it[1]) ? it[1] : { text: it[1] === undefined || it[1] === '' ? '—' : String(it[1]) }));
    })));
  }

  /* 报名状态 of a bound account: only paid subjects count as registered (guide step 11). */
  function boundStatus(c) {
    if (!c) return '已绑定考生报名信息';
    var regs = regsOf(c), unpaid = regs.filter(function (r) { return !r.paid; });
    if (!regs.length) return '已保存报名信息，尚未报考任何科目（保存24小时后仍无科目将被自动删除）';
    if (unpaid.length) {
      return '有未支付科目（未支付：¥' + yuan((pick(c, 'unpaid') || {}).total || 0) + '），只有支付成功的科目才算报名完成';
    }
    return '已报名（所有已报考科目均已支付）';
  }

  function pageHome() {
    var my = routeNo;
    return loadMe(true).then(function (me) {
      if (!meBound(me)) return [me, null];
      return api('GET', '/candidate').then(function (c) { return [me, c]; }, function () { return [me, null]; });
    }).then(function (res) {
      if (my !== routeNo) return; /* the candidate went on (账号信息 at once): no render over it */
      var me = res[0], cand = res[1];
      var agreed = meAgreed(me), bound = meBound(me), s = sitting(me);
      var status = bound ? boundStatus(cand) : '未报名或当前通行证账号非报名时账号';
      var next = !agreed ? '#/agreement' : !bound ? '#/qualify' : '#/registration';
      var timesTable = examTimes(s);
      render(h('section.card#home', h('h2', { text: '欢迎登录CET考试报名系统' }),
        h('h3', { text: '基本信息' }),
        kvTable([['考次名称', sittingName(me) || '—'], ['报名状态', status], ['当前阶段', phaseText(me)],
          ['通行证账号', pick(me, 'email') || session.email()],
          ['通行证ID', String(pick(me, 'account_id') || '').toUpperCase()]], 'basic-info'),
        h('div.actions', h('a.btn#start', { href: next, text: bound ? '查看报名信息' : '开始报名' }),
          h('a.btn.btn-secondary#to-account', { href: '#/account', text: '账号信息（修改邮箱、密码）' }))),
        h('section.card#news', h('h2', { text: 'CET考试最新动态' }),
          h('h3', { text: '考试时间' + (sittingName(me) ? '（' + sittingName(me) + '）' : '') }), timesTable,
          h('h3', { text: '笔试科目准考证打印提示' }),
          h('ol.tips',
            h('li', { text: '请考生按规定领取或自行打印准考证。' }),
            h('li', '请自行打印准考证考生于 ', dateSpan(pick(s, 'print_opens'), true),
              ' 起登录该系统进行下载及打印，考试日前均可进行操作。'),
            h('li', { text: '自行打印准考证“考生须知”中有关条形码及题目作答顺序等内容仅针对英语四级和英语六级笔试科目。' }))));
    });
  }

  /* ---------------------------------------------------------------- agreement (step 4) */

  function pageAgreement() {
    var msg = messageSlot();
    var box = h('input', { type: 'checkbox', id: 'agree' });
    var btn = h('button.btn#agree-button', { type: 'button', text: '同意', disabled: true });
    var reason = h('span.reason#agree-reason', { text: '请先勾选“我已阅读并接受遵守本网站报名协议”' });
    box.addEventListener('change', function () { btn.disabled = !box.checked; reason.hidden = box.checked; });
    btn.addEventListener('click', busy(btn, msg, function () {
      return mutate('POST', '/agreement', {}).then(function () {
        state.me = null;
        location.hash = '#/qualify';
      });
    }));
    render(steps(STEP.agreement), h('section.card', h('h2', { text: '报名协议' }),
      h('div.agreement', h('ol', AGREEMENT.map(function (t) { return h('li', { text: t }); }))),
      h('label.check', { for: 'agree' }, box, h('span.required', { text: '我已阅读并接受遵守本网站报名协议' })),
      msg.el,
      h('div.actions', h('a.btn.btn-secondary', { href: '#/home', text: '不同意' }), h('span.blocked', btn, reason))));
  }

  /* ---------------------------------------------------------------- qualification (steps 5-8) */

  function qualNames(quals) {
    return (quals || []).map(function (s) { return subjectName(s); }).join('；') || '无';
  }

  /* The person block of the guide: 姓名 性别 证件类型 证件号码 资格科目. */
  function personView(r, quals, id) {
    r = r || {};
    return kvTable([['姓名', pick(r, 'name')], ['性别', pick(r, 'gender')],
      ['证件类型', idTypeName(pick(r, 'id_type'))], ['证件号码', pick(r, 'id_number')],
      ['资格科目', qualNames(quals)]], id);
  }

  /* 学籍信息, two pairs a row on a desk. */
  function rosterView(r) {
    r = r || {};
    var items = [
      ['笔试报名学校', place(pick(r, 'school'))], ['笔试报名校区', place(pick(r, 'campus'))],
      ['学历', pick(r, 'education')], ['学制', pick(r, 'program_years')],
      ['入学年份', pick(r, 'entry_year')], ['年级', pick(r, 'grade')],
      ['院系', pick(r, 'department')], ['专业', pick(r, 'major')],
      ['班级', pick(r, 'class')], ['学号', pick(r, 'student_no')],
      ['备注', pick(r, 'remarks')]
    ];
    return h('dl.kv#roster', items.map(function (it) {
      var v = it[1];
      return [h('dt', { text: it[0] }), h('dd', { text: v === undefined || v === '' ? '—' : String(v) })];
    }));
  }

  function qualSubjects(obj) {
    var q = pick(obj, 'qualified_subjects');
    return Array.isArray(q) ? q : [];
  }

  function pageQualify() {
    return loadMe(true).then(function (me) {
      if (!meAgreed(me)) { location.hash = '#/agreement'; return; }
      if (meBound(me)) { location.hash = '#/registration'; return; }
      var msg = messageSlot();
      var type = idTypeSelect('id_type');
      var num = input('id_number', 'text', { required: true, autocomplete: 'off', maxlength: '20', placeholder: '请输入证件号码' });
      var name = input('name', 'text', { required: true, autocomplete: 'name', maxlength: '30', placeholder: '请输入姓名' });
      var btn = h('button.btn#query', { type: 'submit', text: '查询' });
      var form = h('form', { novalidate: true },
        row('证件类型', type, { required: true, hint: '学籍证件类型（不支持军官证）。' }),
        row('证件号码', num, { required: true }), row('姓名', name, { required: true }), msg.el,
        h('div.actions', btn));
      var fe = fieldErrors();
      form.addEventListener('submit', busy(btn, msg, function () {
        fe.clear();
        var q = { id_type: type.value, id_number: num.value.trim().toUpperCase(), name: name.value.trim() };
        if (!q.id_type) { fe.set(type, '请选择证件类型（证件类型、证件号码和姓名均为必填项）。'); return; }
        if (!q.id_number) { fe.set(num, '请输入证件号码（证件类型、证件号码和姓名均为必填项）。'); return; }
        if (!q.name) { fe.set(name, '请输入姓名（证件类型、证件号码和姓名均为必填项）。'); return; }
        var bad = checkIdNumber(q.id_type, q.id_number);
        if (bad) { fe.set(num, ERROR_TEXT[bad]); return; }
        return mutate('POST', '/qualification', q).catch(function (err) {
          if (fe.route(err, { id_type: type, id_number: num, name: name },
            { id_type_refused: type, invalid_id_number: num, id_check_digit: num })) return null;
          throw err;
        }).then(function (r) {
          if (!r) return;
          state.qual = { q: q, r: r };
          dialog('提示', [h('p#query-ok', { text: '查询成功!' })], [['确定', function (d) {
            d.close();
            showConfirmation(me, q, r);
          }, { id: 'query-ok-button' }]]);
        });
      }));
      render(steps(STEP.query), h('section.card.narrow', h('h2', { text: '资格信息查询' }), form));
    });
  }

  /* 资格信息确认: the roster record, the CET6资格复核 button, 保存并继续. */
  function showConfirmation(me, q, r) {
    var roster = pick(r, 'roster') || {};
    var quals = qualSubjects(r);
    var canBind = pick(r, 'can_bind') !== false;
    var offered = !!pick(r, 'cet6_review_offered');
    var msg = messageSlot();
    var box = h('input', { type: 'checkbox', id: 'confirm' });
    var btn = h('button.btn#bind', { type: 'button', text: '保存并继续', disabled: true });
    var bindReason = h('span.reason#bind-reason', { text: canBind ? '请勾选确认' : windowReason(me) });
    function bind() {
      return mutate('POST', '/candidate', {
        id_type: q.id_type, id_number: q.id_number, name: q.name, confirmed: true
      }).then(function () { state.qual = null; return loadMe(true); });
    }
    btn.addEventListener('click', busy(btn, msg, function () {
      return bind().then(function () {
        dialog('提示', [h('p', { text: '保存成功' })], [['确定', function (d) {
          d.close(); location.hash = '#/written';
        }, { id: 'saved-ok' }]], { onClose: function () { location.hash = '#/written'; } });
      });
    }));

    /* CET6资格复核 (step 7): the review binds to the account, so it saves the record first. */
    var reviewBtn = null, reviewReason = null;
    if (offered) {
      reviewBtn = h('button.btn.btn-review#review-open', { type: 'button', text: 'CET6资格复核', disabled: true });
      reviewReason = h('span.reason#review-reason', {
        text: canBind ? '复核申请与通行证账号绑定：请先勾选下方确认，提交复核时将同时保存报名信息。' : windowReason(me)
      });
      reviewBtn.addEventListener('click', function () {
        reviewDialog({
          person: { name: roster.name, id_type: roster.id_type, id_number: roster.id_number },
          before: bind,
          onClose: function () {
            if (meBound(state.me)) location.hash = '#/written'; /* saved: go on to 笔试报考 (step 9) */
          }
        });
      });
    }
    box.disabled = !canBind;
    box.addEventListener('change', function () {
      btn.disabled = !box.checked;
      bindReason.hidden = box.checked;
      if (reviewBtn) { reviewBtn.disabled = !box.checked; reviewReason.hidden = box.checked; }
    });
    render(steps(STEP.confirm), h('section.card#confirmation', h('h2', { text: '资格信息确认' }),
      personView(roster, quals, 'person'),
      reviewBtn ? h('div.review-row', reviewBtn, reviewReason) : null,
      h('h3', { text: '学籍信息' }), rosterView(roster),
      canBind ? null : notice('warn', '当前为资格查询阶段：学籍信息尚未与通行证绑定，同一个通行证账号可以替多个考生查询学籍资格信息。' + windowReason(me)),
      h('ul.notes',
        h('li', { text: '保存成功后，学籍库信息的修改将无法影响到已保存的报名信息，保存前请务必确认自己信息正确！' }),
        h('li', { text: '一个通行证账号只能绑定一个考生的报名信息；一个考生的报名信息只能绑定到一个通行证账号。' }),
        h('li', { text: '如果保存 24 小时后，报名信息下无任何科目，系统将会自动将报名信息删除，到时需要重新走以上流程。' })),
      h('label.check', { for: 'confirm' }, box, h('span.required', { text: '我已检查并确认学籍与资格信息正确' })),
      msg.el,
      h('div.actions', h('a.btn.btn-secondary', { href: '#/home', text: '返回首页' }),
        h('span.blocked', btn, bindReason),
        canBind ? null : h('button.btn.btn-secondary', { type: 'button', text: '重新查询', onclick: function () { route(); } }))));
  }

  /* ---------------------------------------------------------------- CET6 review (step 7) */

  var REVIEW_SHOWN = {
    auto_approved: '已复核（系统自动复核通过）', approved: '已复核（学校复核通过）',
    pending: '未复核', rejected: '复核未通过'
  };

  /*
   * The CET6资格复核 dialog: the current application (查看复核申请信息) or the
   * form (新增CET6资格复核申请). ctx.person: {name, id_type, id_number} shown
   * on the form; ctx.before: a step run before submitting (saving the record
   * on the confirmation page); ctx.onClose.
   */
  function reviewDialog(ctx) {
    var getIt = ctx.before ? Promise.resolve(null) : api('GET', '/cet6-review').then(null, function (e) {
      if (e.code === 'review_not_found') return null;
      throw e;
    });
    return getIt.then(function (review) {
      var st = review && pick(review, 'state');
      if (review && st !== 'rejected') {
        var d = dialog('查看复核申请信息', [
          kvTable([['姓名', review.name], ['证件类型', idTypeName(review.id_type)], ['证件号码', review.id_number],
            ['准考证号', review.ticket_number], ['复核状态', h('span#review-state', { text: REVIEW_SHOWN[st] || st })]]),
          st === 'pending' ? notice('info', '“未复核”状态的申请无法修改和取消，需要考生联系学校负责老师或根据学校要求携带相关证明到学校负责老师处，进行手动复核。') : null,
          st === 'approved' || st === 'auto_approved' ? notice('ok', '复核通过：您已获得英语六级报考资格（英语六级笔试、英语六级口试）。复核通过后将无法更改和取消。') : null
        ], [['关闭', null, { id: 'review-close', secondary: true }]], { id: 'review-dialog', onClose: ctx.onClose });
        return d;
      }
      var person = ctx.person || {};
      var ticket = input('ticket_number', 'text', {
        inputmode: 'numeric', maxlength: '15', autocomplete: 'off', placeholder: '15位CET四级笔试准考证号'
      });
      var box = h('input', { type: 'checkbox', id: 'review-confirm' });
      var fieldMsg = messageSlot();
      var savedMsg = messageSlot();
      var body = [
        savedMsg.el,
        notice('info', 'CET四级笔试成绩为2005年之前的考生，请联系学校相关负责人代为申请。'),
        st === 'rejected' ? notice('warn', '复核未通过：您可以修改信息重新提交，或删除复核申请。') : null,
        kvTable([['姓名', person.name || (review && review.name)], ['证件类型', idTypeName(person.id_type || (review && review.id_type))],
          ['证件号码', person.id_number || (review && review.id_number)]], 'review-person'),
        row('准考证号', ticket, { required: true, hint: '2005年（含）以后通过英语四级笔试（425分以上）的准考证号。' }),
        fieldMsg.el,
        h('label.check', { for: 'review-confirm' }, box,
          h('span.required', { text: '我确认提交复核的信息所有者为本人，且准考证号已通过CET四级笔试(分数≥425)' }))
      ];
      var buttons = [['保存并提交复核', function (d) {
        fieldMsg.clear();
        var t = ticket.value.trim();
        if (!/^\d{15}$/.test(t)) { fieldMsg.error(ERROR_TEXT.ticket_invalid); return; }
        if (!box.checked) { fieldMsg.error(ERROR_TEXT.not_confirmed); return; }
        var saving = !!ctx.before;
        return Promise.resolve(ctx.before ? ctx.before() : null).then(function () {
          ctx.before = null; /* saved once */
          /* the record is bound now, whatever the review's answer: say so */
          if (saving) savedMsg.ok('保存成功：报名信息已与当前通行证账号绑定。关闭本窗口后可继续笔试报考。');
          return mutate(review ? 'PUT' : 'POST', '/cet6-review', { ticket_number: t, confirmed: true });
        }).then(function (r) {
          loadMe(true).catch(function () {});
          var s2 = pick(r, 'state');
          d.el.querySelector('.dialog-body').textContent = '';
          append(d.el.querySelector('.dialog-body'), s2 === 'pending'
            ? notice('info', '提交成功，复核状态为“未复核”：请联系学校负责老师进行手动复核，复核通过后才能获得英语六级报考资格。')
            : notice('ok', '提交成功，系统自动复核通过：您已获得英语六级报考资格（英语六级笔试、英语六级口试）。'));
          var acts = d.el.querySelector('.actions');
          acts.textContent = '';
          append(acts, h('button.btn#review-close', { type: 'button', text: '关闭', onclick: d.close }));
        }, function (e) {
          /* the refusal beside the ticket number it is about */
          if (e && /ticket|review/.test(e.code || '')) { fieldMsg.error(e); return; }
          throw e;
        });
      }, { id: 'review-submit' }]];
      if (review) {
        buttons.push(['删除复核申请', function (d) {
          return mutate('DELETE', '/cet6-review', undefined).then(function () { state.me = null; d.close(); });
        }, { id: 'review-delete', secondary: true }]);
      }
      buttons.push(['关闭', null, { id: 'review-close', secondary: true }]);
      return dialog(review ? '修改CET6资格复核申请' : '新增CET6资格复核申请', body, buttons,
        { id: 'review-dialog', onClose: ctx.onClose });
    });
  }

  /* ---------------------------------------------------------------- registrations */

  /* A registration row of GET /candidate. */
  function normReg(x, oral) {
    var paid = pick(x, 'state') === 'paid';
    return {
      code: subjectCode(pick(x, 'subject')), name: pick(x, 'name') || subjectName(pick(x, 'subject')),
      oral: oral, campus: placeCode(pick(x, 'campus')), campusText: place(pick(x, 'campus')),
      schoolText: place(pick(x, 'school')), fee: pick(x, 'fee'), paid: paid,
      arranged: pick(x, 'arrangement') === 'arranged', locked: !!pick(x, 'locked'),
      method: pick(x, 'method'), pending: !!pick(x, 'order_id') && !paid,
      expires: pick(x, 'expires_at')
    };
  }
  function regsOf(c) {
    return (pick(c, 'written') || []).map(function (x) { return normReg(x, false); })
      .concat((pick(c, 'oral') || []).map(function (x) { return normReg(x, true); }));
  }
  /* The written subject an oral one needs (F -> 1, S -> 2). */
  var WRITTEN_OF = { F: '1', S: '2' };
  function writtenOf(code, offer) { return (offer && offer.written) || WRITTEN_OF[code] || ''; }
  function oralsOf(regs, writtenCode) {
    return regs.filter(function (r) { return r.oral && writtenOf(r.code) === writtenCode; });
  }

  function payStatusLine(list, unpaidFen, id) {
    var paid = list.filter(function (r) { return r.paid; }).length;
    var st = !list.length ? '无报考科目' : paid === 0 ? '全未支付' : paid === list.length ? '全部已支付' : '部分支付';
    return h('p.pay-status#' + id, '支付状态：', h('b', { text: st }), h('span.gap'), '未支付：',
      h('b.money', { text: '¥' + yuan(unpaidFen || 0) }));
  }

  function pageRegistration(openReview) {
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
      var personal = pick(c, 'candidate') || {};
      var quals = qualSubjects(c);
      var regs = regsOf(c);
      var written = regs.filter(function (r) { return !r.oral; });
      var oral = regs.filter(function (r) { return r.oral; });
      var unpaid = pick(c, 'unpaid') || {};
      var closed = windowReason(me);
      var review = pick(c, 'cet6_review');
      var reviewOffered = !!pick(c, 'cet6_review_offered');
      var msg = messageSlot();
      var flashNow = flash;
      flash = '';

      /* ---- payment selection: every payable row of both tables ---- */
      var payBoxes = [];
      function payable(r) { return !r.paid && !r.locked && !r.pending; }
      function selected() { return payBoxes.filter(function (b) { return b.checked; }).map(function (b) { return b.reg; }); }
      /* '' when the chosen set can be paid, else why the server would refuse it. */
      function payProblem(sel) {
        if (closed) return closed;
        if (!sel.length) return '请勾选要支付的科目。';
        for (var i = 0; i < sel.length; i++) {
          if (!sel[i].oral) continue;
          var w = writtenOf(sel[i].code);
          var wr = regs.filter(function (r) { return r.code === w; })[0];
          var withIt = sel.some(function (s) { return s.code === w; });
          if (wr && wr.pending) {
            /* its written subject is in an open order: it cannot be ticked, so do not ask for it */
            return wr.name + '的支付订单正在处理中：' + sel[i].name + '须在' + wr.name + '支付成功后再支付（或待该订单关闭后与笔试一同支付）。';
          }
          if (wr && !wr.paid && !withIt) {
            return sel[i].name + '须与' + wr.name + '一同支付，或在笔试支付后支付：请同时勾选' + wr.name + '。';
          }
        }
        return '';
      }

      function cancelButton(r) {
        var b = h('button.btn.btn-danger.btn-small.cancel', { type: 'button', text: '取消报考', 'data-subject': r.code });
        var orals = r.oral ? [] : oralsOf(regs, r.code);
        var why = closed || (r.locked ? ERROR_TEXT.registration_locked : r.pending ? ERROR_TEXT.payment_pending : '');
        if (!why && orals.some(function (o) { return o.paid; })) why = ERROR_TEXT.oral_paid;
        if (!why && orals.some(function (o) { return o.locked; })) why = '其口试科目已被学校锁定为集体缴费，不能取消。';
        if (!why && orals.some(function (o) { return o.pending; })) why = '其口试科目有一笔支付订单正在处理中，不能取消。';
        if (why) return blocked(b, why);
        b.addEventListener('click', function () {
          var also = orals.filter(function (o) { return !o.paid; });
          dialog('取消报考', [
            h('p', { text: '确定取消报考“' + r.name + '”（' + r.campusText + '）吗？' }),
            also.length ? notice('warn', '取消笔试科目将同时取消其未支付的口试科目：' +
              also.map(function (o) { return o.name; }).join('、') + '。') : null,
            h('p.muted', { text: '取消后考位将释放，需要时可在报名时间内重新报考（以届时剩余容量为准）。' })
          ], [['确定取消', function (d) {
            return mutate('DELETE', '/registrations/' + encodeURIComponent(r.code), undefined).then(function () {
              flash = '已取消报考“' + r.name + '”' + (also.length ? '，并同时取消了' + also.map(function (o) { return o.name; }).join('、') : '') + '。';
              d.close(); route();
            });
          }, { id: 'cancel-confirm' }], ['返回', null, { secondary: true, id: 'cancel-back' }]], { id: 'cancel-dialog' });
        });
        return b;
      }

      function regTable(list, id, kindName) {
        if (!list.length) return null;
        var heads = ['#', '科目', '费用(元)', '支付状态', '编排状态', '科目报考方式', '报名学校', '报名校区', '保留至', '操作'];
        return h('table.data.regs#' + id,
          h('thead', h('tr', heads.map(function (t) { return h('th', { text: t, scope: 'col' }); }))),
          h('tbody', list.map(function (r, i) {
            var box = null;
            if (payable(r)) {
              box = h('input.paybox', { type: 'checkbox', value: r.code, checked: true, 'aria-label': '支付：' + r.name });
              box.reg = r;
              payBoxes.push(box);
            }
            var payState = r.paid ? h('span.badge.state-paid', { text: '已支付' })
              : r.pending ? h('span.badge.state-other', { text: '支付处理中' })
                : h('span.badge.state-unpaid', { text: '未支付' });
            var method = r.method === 'school' || r.locked ? '学校集体缴费' : '考生注册';
            return h('tr', { 'data-subject': r.code },
              h('td', { 'data-label': box ? '勾选支付' : '#' },
                box ? h('label.paypick', box, h('span', { text: String(i + 1) })) : String(i + 1)),
              h('td.subj', { 'data-label': '科目', text: '(' + r.code + ') ' + r.name }),
              h('td.num', { 'data-label': '费用(元)' }, moneySpan(r.fee)),
              h('td', { 'data-label': '支付状态' }, payState),
              h('td', { 'data-label': '编排状态', text: r.arranged ? '已编排' : '未编排' }),
              h('td', { 'data-label': '科目报考方式', text: method }),
              h('td.place', { 'data-label': '报名学校', text: r.schoolText || '—' }),
              h('td.place', { 'data-label': '报名校区', text: r.campusText || '—' }),
              h('td', { 'data-label': '保留至' }, r.paid || r.locked || r.pending || !r.expires ? '—' : dateSpan(r.expires)),
              h('td', { 'data-label': '操作' }, r.paid ? '—' : cancelButton(r)));
          })));
      }

      var payButtons = [], payReasons = [];
      function payBlock(id) {
        var b = h('button.btn.pay#' + id, { type: 'button', text: '支付' });
        var why = h('span.reason.pay-reason');
        b.addEventListener('click', function () { payDialog(selected()); });
        payButtons.push(b);
        payReasons.push(why);
        var upd = h('button.btn.btn-secondary', { type: 'button', text: '更新', onclick: function () { route(); } });
        return h('div.actions', h('span.blocked', b, why), upd);
      }
      function updatePay() {
        var sel = selected();
        var why = payProblem(sel);
        var sum = sel.reduce(function (a, r) { return a + (r.fee || 0); }, 0);
        payButtons.forEach(function (b) { b.disabled = !!why; });
        payReasons.forEach(function (w) { w.textContent = why || ('已勾选科目（笔试与口试）合计：¥' + yuan(sum)); w.classList.toggle('ok', !why); });
      }

      function payDialog(sel) {
        var why = payProblem(sel);
        if (why) return;
        var sum = sel.reduce(function (a, r) { return a + (r.fee || 0); }, 0);
        var chan = PAY_CHANNELS[0][0];
        var radios = PAY_CHANNELS.map(function (c2, i) {
          var rb = h('input', { type: 'radio', name: 'channel', value: c2[0], id: 'channel-' + c2[0], checked: i === 0 });
          rb.addEventListener('change', function () { if (rb.checked) chan = c2[0]; });
          return h('label.radio', { for: 'channel-' + c2[0] }, rb, ' ', c2[1]);
        });
        dialog('确认报考信息', [
          h('table.data.confirm-table', h('thead', h('tr', h('th', { text: '科目' }), h('th', { text: '报名校区' }), h('th', { text: '费用(元)' }))),
            h('tbody', sel.map(function (r) {
              return h('tr', h('td.subj', { 'data-label': '科目', text: r.name }), h('td', { 'data-label': '报名校区', text: r.campusText }),
                h('td.num', { 'data-label': '费用(元)' }, moneySpan(r.fee)));
            }))),
          h('p.total', '支付金额：', h('b.money#pay-sum', { text: '¥' + yuan(sum) })),
          h('div.form-row', h('span.form-label', { text: '支付方式' }), h('div.radios', radios)),
          h('p.muted', { text: '只有支付成功的科目才算报名完成；支付期间所选科目的考位保留至支付结果确认。' })
        ], [['去支付', function (d) {
          d.close();
          dialog('提示', [h('p#pay-final', { text: '您选择' + channelName(chan) + '进行支付，支付金额为 ' + yuan(sum) + ' 元人民币。请再次确认报考信息：' +
            sel.map(function (r) { return r.name; }).join('、') + '。' })],
          [['确定', function () {
            return mutate('POST', '/payments', { subjects: sel.map(function (r) { return r.code; }), channel: chan })
              .then(function (o) { goPay(o); });
          }, { id: 'pay-confirm' }], ['取消', null, { secondary: true }]], { id: 'pay-dialog-2' });
        }, { id: 'pay-go' }], ['取消', null, { secondary: true }]], { id: 'pay-dialog-1' });
      }

      var writtenTable = regTable(written, 'written-regs');
      var oralTable = regTable(oral, 'oral-regs');
      payBoxes.forEach(function (b) { b.addEventListener('change', updatePay); });

      /* ---- progress line, as the guide's 报名流程 ---- */
      var unpaidW = written.some(function (r) { return !r.paid; }), unpaidO = oral.some(function (r) { return !r.paid; });
      var progress = !regs.length ? '尚未报考任何科目，请通过“笔试报考”报考笔试科目。'
        : unpaidW ? '存在未支付笔试科目，请通过“支付”进行支付。'
          : unpaidO ? '存在未支付口试科目，请通过“支付”进行支付。'
            : '所有已报考科目均已支付，报名完成。准考证打印时间见首页。';
      var deleteAt = pick(c, 'delete_at');

      var addWritten = h('a.btn.btn-secondary#add-written', { href: '#/written', text: '笔试报考' });
      var addOral = h('a.btn.btn-secondary#add-oral', { href: '#/oral', text: '口试报考' });
      var reviewBtn = reviewOffered || review ? h('button.btn.btn-review#review-open', { type: 'button', text: 'CET6资格复核',
        onclick: function () {
          reviewDialog({ person: personal, onClose: function () {
            if (location.hash === '#/review') location.hash = '#/registration'; else route();
          } }).catch(function (e) { msg.error(e); });
        } }) : null;
      var ann = pick(c, 'announcements') || {};
      var stepNow = regs.length && regs.every(function (r) { return r.paid; }) ? STEP.pay + 1 : STEP.registration;

      render(steps(stepNow),
        h('section.card#reg-page', h('h2', { text: '报名信息' }),
          h('div.tips', h('b', { text: '提示：' }), h('ol',
            h('li', { text: '必须先完成笔试科目的报考，才可以报考同级别口试。' }),
            h('li', { text: '可以只报考笔试，但不可以只报考口试。' }),
            h('li', { text: '不同科目可分多次报考、支付。只有支付成功的科目才算报名完成。' }),
            h('li', { text: '所有已报考科目如果24小时内未支付，将会被系统自动删除，报考完毕请尽快完成支付。' }),
            h('li', { text: '如果报考科目为空，报名信息会被系统自动删除。' }),
            h('li', { text: '完成支付科目，可以在首页查看准考证打印时间，届时在本页面打印下载准考证。' }))),
          kvTable([['姓名', personal.name], ['性别', personal.gender], ['证件类型', idTypeName(personal.id_type)],
            ['证件号码', personal.id_number], ['学籍', place(personal.school) + ' — ' + place(personal.campus)]], 'reg-person'),
          h('p.progress#progress', h('b', { text: '报名流程：' }), progress),
          flashNow ? h('div#flash', notice('ok', flashNow)) : null,
          deleteAt && !regs.length ? notice('warn', '您的报名信息下暂无任何科目。如果到 ' + when(deleteAt) +
            ' 仍无任何科目，系统将自动删除报名信息，届时需要重新进行资格信息查询与确认。') : null,
          closed ? notice('warn', closed) : null,
          po ? h('div.notice.notice-info#pending-order', '您有一笔支付订单（' + po.order_id + '）待确认。',
            h('a', { href: '#/pay/' + encodeURIComponent(po.order_id), text: '查看支付结果' })) : null,
          h('div.actions', h('a.btn.btn-secondary', { href: '#/home', text: '返回首页' }), reviewBtn,
            closed ? blocked(h('button.btn.btn-secondary#add-written', { type: 'button', text: '笔试报考' }), closed) : addWritten,
            closed ? blocked(h('button.btn.btn-secondary#add-oral', { type: 'button', text: '口试报考' }), closed)
              : written.length ? addOral
                : blocked(h('button.btn.btn-secondary#add-oral', { type: 'button', text: '口试报考' }), '必须先完成笔试科目的报考，才可以报考同级别口试。'),
            h('a.btn.btn-secondary#tickets-link', { href: 'tickets.html', text: '准考证打印' })), /* tickets.js */
          review ? h('p.muted#review-line', 'CET6资格复核：', h('b', { text: REVIEW_SHOWN[review] || review })) : null,
          msg.el),
        h('section.card#personal', h('h2', { text: '报名个人信息' }),
          kvTable([['学籍学校', place(personal.school)], ['学籍校区', place(personal.campus)], ['资格科目', qualNames(quals)]])),
        h('section.card#written-section', h('h2', { text: '笔试报考科目信息' }),
          written.length ? payStatusLine(written, unpaid.written, 'written-status') : null,
          writtenTable || notice('info', '当前没有报考笔试科目，可通过“笔试报考”进行科目报考！'),
          written.some(payable) ? payBlock('pay') : null),
        h('section.card#oral-section', h('h2', { text: '口试报考科目信息' }),
          oral.length ? payStatusLine(oral, unpaid.oral, 'oral-status') : null,
          oralTable || notice('info', '当前没有报考口试科目，可通过“口试报考”进行科目报考！'),
          oral.some(payable) ? payBlock('pay-oral') : null),
        announcements(ann, personal));
      updatePay();
      if (openReview === true && reviewBtn) reviewBtn.click();
    });
  }

  /* 通告信息: the province's and the school's announcements. */
  function announcements(ann, personal, title) {
    var parts = [];
    if (ann && ann.province) parts.push(h('h3', { text: '省通告' }), h('div.announcement#province-announcement', { text: ann.province }));
    if (ann && ann.school) {
      parts.push(h('h3', { text: '学校通告：' + place(personal && personal.school) }),
        h('div.announcement#school-announcement', { text: ann.school }));
    }
    if (!parts.length) return null;
    return h('section.card#announcements', h('h2', { text: title || '通告信息' }), parts);
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

  var pollToken = 0;
  function pagePay(orderId) {
    var my = ++pollToken;
    var msg = messageSlot();
    var status = h('div#pay-status');
    var resume = h('div#pay-resume-block'), resumeShown = false;
    var saved = readPendingOrder();
    render(steps(STEP.pay), h('section.card', h('h2', { text: '支付结果' }),
      kvTable([['订单号', h('span#order-id', { text: orderId })],
        ['支付金额', saved && String(saved.order_id) === orderId ? h('span.money', { text: '¥' + yuan(saved.amount) }) : '—']]),
      status, resume, msg.el,
      h('div.actions', h('a.btn#back-to-registration', { href: '#/registration', text: '查看报名信息' }))));
    var rounds = 0;
    function tick() {
      if (my !== pollToken) return;
      return api('GET', '/payments/' + encodeURIComponent(orderId)).then(function (o) {
        if (my !== pollToken) return;
        var s = pick(o, 'state');
        status.textContent = '';
        if (s !== 'pending') resume.textContent = '';
        if (s === 'paid') {
          sessionStorage.removeItem(ORDER_KEY);
          append(status, notice('ok', '支付成功，金额 ' + money(pick(o, 'amount')) + '（' + channelName(pick(o, 'channel')) +
            '）。所缴科目报名完成。'));
          return;
        }
        if (s === 'expired' || s === 'refund') {
          sessionStorage.removeItem(ORDER_KEY);
          append(status, notice('error', s === 'refund'
            ? '支付在订单超时后才到账，该笔款项将按规定退款，请重新支付。'
            : '该支付订单已关闭（未在规定时间内完成支付），请返回报名信息页面重新支付。'));
          return;
        }
        append(status, notice('info', '正在等待支付平台确认支付结果……如已完成支付，请稍候；本页面会自动刷新。'));
        if (!resumeShown) {
          resumeShown = true;
          var closes = pick(o, 'expires_at');
          var canResume = saved && String(saved.order_id) === orderId && saved.pay_url;
          append(resume, h('p#pay-pending-note', { text: (canResume ? '如尚未完成支付，可点击“继续支付”回到支付平台。' : '') +
            '未完成支付的订单将于 ' + when(closes) + ' 自动关闭，所选科目届时可重新支付（科目本身按报名信息页面的“保留至”时间保留）。' }),
          canResume ? h('div.actions', h('button.btn#pay-resume', { type: 'button', text: '继续支付',
            onclick: function () { goPay(saved); } })) : null);
        }
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

  /* ---------------------------------------------------------------- offers (steps 10, 12) */

  function offersOf(r) {
    return (pick(r, 'offers') || []).map(function (o) {
      return {
        code: subjectCode(pick(o, 'subject')), name: pick(o, 'name') || subjectName(pick(o, 'subject')),
        level: pick(o, 'level'), kind: pick(o, 'kind'), fee: pick(o, 'fee'),
        campus: placeCode(pick(o, 'campus')), campusText: place(pick(o, 'campus')),
        school: placeCode(pick(o, 'school')), schoolText: place(pick(o, 'school')),
        registered: !!pick(o, 'registered'), opens: pick(o, 'window_opens'), closes: pick(o, 'window_closes'),
        exam: pick(o, 'exam_date'), seats: pick(o, 'seats') || 'none',
        announcement: pick(o, 'school_announcement') || '', written: pick(o, 'written') || ''
      };
    });
  }

  /* 剩余容量: green 有 (half or more left), yellow 较少, red 无 (full). */
  function seatBadge(s) {
    if (s === 'none') return h('span.badge.seat-none', { text: '无', title: '已报满' });
    if (s === 'yellow') return h('span.badge.seat-yellow', { text: '较少', title: '剩余不足设定容量的一半' });
    return h('span.badge.seat-green', { text: '有', title: '剩余设定容量的一半以上' });
  }
  function seatLegend() {
    return h('p.muted.legend', '剩余容量：', seatBadge('green'), ' 设定容量一半以上　', seatBadge('yellow'),
      ' 不足一半　', seatBadge('none'), ' 已报满，无法报考，可选择其他校区。');
  }

  /* One offer as a table row; action: the cell's content. */
  function offerRowEl(o, action, withExam) {
    return h('tr' + (o.seats === 'none' ? '.disabled' : ''), { 'data-subject': o.code, 'data-campus': o.campus },
      h('td.subj', { 'data-label': '科目', text: '(' + o.code + ') ' + o.name }),
      h('td.num', { 'data-label': '费用(元)' }, moneySpan(o.fee)),
      h('td.place', { 'data-label': '报名学校', text: o.schoolText }),
      h('td.place', { 'data-label': '报名校区', text: o.campusText }),
      h('td', { 'data-label': '剩余容量' }, seatBadge(o.seats)),
      h('td', { 'data-label': '报名时间' }, h('span.window', dateSpan(o.opens), ' 至 ', dateSpan(o.closes))),
      withExam ? h('td', { 'data-label': '考试日期' }, dateSpan(o.exam, true)) : null,
      h('td.action', { 'data-label': '操作' }, action));
  }
  function offerTable(rows, withExam, cls) {
    var heads = ['科目', '费用(元)', '报名学校', '报名校区', '剩余容量', '报名时间'].concat(withExam ? ['考试日期'] : [], ['操作']);
    return h('table.data.offers' + (cls ? '.' + cls : ''),
      h('thead', h('tr', heads.map(function (t) { return h('th', { text: t, scope: 'col' }); }))), h('tbody', rows));
  }

  /* After a registration: the guide's 提示 保存成功, then the registration page. */
  function registered(o, r) {
    dialog('提示', [notice('ok', '保存成功！已报考“' + o.name + '”（' + o.campusText + '），费用 ' + money(pick(r, 'fee')) +
      '。请在 ' + when(pick(r, 'expires_at')) + ' 前完成支付，逾期未支付将被系统自动删除。')],
    [['确定', function (d) { d.close(); location.hash = '#/registration'; }, { id: 'registered-ok' }]],
    { id: 'registered-dialog', onClose: function () { if (location.hash !== '#/registration') location.hash = '#/registration'; } });
  }

  function registerButton(o, closedWhy, reason) {
    var b = h('button.btn.btn-small.register', { type: 'button', text: '报考', 'data-subject': o.code, 'data-campus': o.campus });
    var why = closedWhy || reason || (o.seats === 'none' ? '该校区考位已报满，请选择其他校区。' : '');
    if (why) return blocked(b, why);
    var msg = messageSlot();
    b.addEventListener('click', busy(b, msg, function () {
      return mutate('POST', '/registrations', { subject: o.code, campus: o.campus }).then(function (r) { registered(o, r); }, function (e) {
        if (e && e.code === 'seats_full') {
          /* gone meanwhile: show it as the server now knows it, and keep the button off */
          o.seats = 'none';
          b.dataset.keepDisabled = '1';
          var tr = b.closest('tr'), cell = tr && tr.querySelector('.badge');
          if (cell) cell.parentNode.replaceChild(seatBadge('none'), cell);
          if (tr) tr.classList.add('disabled');
        }
        throw e;
      });
    }));
    return h('span.blocked', b, msg.el);
  }

  function pageWritten() {
    return Promise.all([loadMe(true), api('GET', '/offers?kind=written'), api('GET', '/candidate')]).then(function (res) {
      var me = res[0], offers = offersOf(res[1]), c = res[2];
      var regs = regsOf(c);
      var closed = windowReason(me);
      var byLevel = {};
      regs.forEach(function (r) { if (!r.oral) byLevel[r.code] = r; });
      var levelOf = {};
      offers.forEach(function (o) { levelOf[o.code] = o.level; });
      (c.qualified_subjects || []).forEach(function (s) { levelOf[s.code] = s.level; });
      function takenAtLevel(o) {
        var codes = Object.keys(byLevel);
        for (var i = 0; i < codes.length; i++) if (codes[i] !== o.code && levelOf[codes[i]] === o.level) return byLevel[codes[i]];
        return null;
      }
      function rowOf(o) {
        var mine = regs.filter(function (r) { return r.code === o.code; })[0];
        var action;
        if (mine) action = h('span.badge.state-other', { text: '已报考' });
        else {
          var other = takenAtLevel(o);
          action = registerButton(o, closed, other ? '已报考' + other.name + '：同级别笔试科目仅能报考一科（如英语四级与日语四级无法同时报考）。' : '');
        }
        return offerRowEl(o, action, true);
      }
      var english = offers.filter(function (o) { return o.code === '1' || o.code === '2'; });
      var others = offers.filter(function (o) { return o.code !== '1' && o.code !== '2'; });
      function group(title, list) {
        return list.length ? [h('tr.group', h('th', { colspan: '8', scope: 'rowgroup', text: title }))].concat(list.map(rowOf)) : [];
      }
      render(steps(STEP.written),
        announcements(pick(c, 'announcements'), pick(c, 'candidate'), '报考须知及省通告'),
        h('section.card#written-page', h('h2', { text: '笔试报考' }),
          h('p.notice.notice-info', { text: '注：同级别科目仅能报考一科。如英语四级与日语四级无法同时报考。只能报考资格科目中的笔试科目，报名校区为学籍校区。' }),
          closed ? notice('warn', closed) : null,
          seatLegend(),
          h('div#offers', offers.length ? offerTable(group('英语笔试', english).concat(group('小语种笔试', others)), true)
            : notice('info', '当前没有可报考的笔试科目。')),
          h('div.actions', h('a.btn.btn-secondary', { href: '#/registration', text: '返回报名信息' }),
            regs.some(function (r) { return !r.oral; }) ? h('a.btn.btn-secondary', { href: '#/oral', text: '口试报考' }) : null)));
    });
  }

  var ORAL_SUBJECTS = [['F', '英语四级口试', 4, '四'], ['S', '英语六级口试', 6, '六']];

  function pageOral() {
    return Promise.all([loadMe(true), api('GET', '/offers?kind=oral'), api('GET', '/candidate')]).then(function (res) {
      var me = res[0], offers = offersOf(res[1]), c = res[2];
      var regs = regsOf(c);
      var closed = windowReason(me);
      var quals = qualSubjects(c).map(function (s) { return s.code; });
      var personal = pick(c, 'candidate') || {};
      var codes = ORAL_SUBJECTS.map(function (x) { return x[0]; });
      qualSubjects(c).forEach(function (s) { if (s.kind === 'oral' && codes.indexOf(s.code) < 0) codes.push(s.code); });

      var sections = codes.map(function (code) {
        var info = ORAL_SUBJECTS.filter(function (x) { return x[0] === code; })[0] || [code, subjectName(code), 0, ''];
        var mine = offers.filter(function (o) { return o.code === code; });
        var name = (mine[0] && mine[0].name) || info[1];
        var sec = h('section.oral-subject', { 'data-subject': code }, h('h3', { text: name }));
        if (quals.indexOf(code) < 0) {
          append(sec, notice('error', '不具有CET' + (info[3] || '') + '级口试报考资格！'));
          var rv = pick(c, 'cet6_review');
          if (code === 'S' && (rv || pick(c, 'cet6_review_offered'))) {
            append(sec, h('p.muted.review-hint', rv === 'pending'
              ? 'CET6资格复核：未复核。学校负责老师复核通过后，即可报考英语六级笔试和英语六级口试。'
              : rv === 'rejected' ? 'CET6资格复核未通过：可修改信息重新提交或删除复核申请。'
                : '如已通过CET四级笔试（425分以上），可申请CET6资格复核；复核通过后即可报考英语六级笔试和英语六级口试。'),
            h('div.actions', h('a.btn.btn-secondary.btn-small#to-review', { href: '#/review', text: 'CET6资格复核' })));
          }
          return sec;
        }
        var reg = regs.filter(function (r) { return r.code === code; })[0];
        if (reg) {
          var o = mine.filter(function (x) { return x.campus === reg.campus; })[0];
          append(sec, o ? offerTable([offerRowEl(o, h('span.badge.state-other', { text: '已报考' }), true)], true)
            : notice('ok', '已报考：' + reg.campusText));
          return sec;
        }
        var wcode = writtenOf(code, mine[0]);
        var wreg = regs.filter(function (r) { return r.code === wcode; })[0];
        if (!wreg) {
          var need = subjectName(wcode);
          append(sec, h('div.actions', blocked(h('button.btn.btn-small.register', { type: 'button', text: '报考', 'data-subject': code }),
            '必须先完成' + need + '的报考，才可以报考' + name + '。')),
          h('div.actions', h('a.btn.btn-secondary.btn-small#to-written', { href: '#/written', text: '去笔试报考' })));
          return sec;
        }
        if (!mine.length) {
          append(sec, notice('info', '当前没有可报考' + name + '的校区（校区不在报名时间内、未设考试日期或费用）。'));
          return sec;
        }
        /* 报名学校校区: choose one; the chosen campus's row and school announcement load. */
        var own = mine.filter(function (o) { return o.campus === placeCode(personal.campus); })[0];
        var start = (own && own.seats !== 'none' ? own : null) || mine.filter(function (o) { return o.seats !== 'none'; })[0] || mine[0];
        var holder = h('div.chosen');
        function show(o) {
          holder.textContent = '';
          append(holder, offerTable([offerRowEl(o, registerButton(o, closed, ''), true)], true, 'chosen-offer'),
            o.announcement ? [h('h4', { text: '学校通告：' + o.schoolText }), h('div.announcement.school-announcement', { text: o.announcement })] : null);
        }
        if (mine.length > 1) {
          var sel = h('select.campus-select', { id: 'campus-' + code, 'aria-label': name + '报名学校校区' }, mine.map(function (o) {
            /* campus and 剩余容量 first: a phone cuts the end of a long option off */
            return h('option', { value: o.campus, text: o.campusText + '（剩余容量：' +
              ({ green: '有', yellow: '较少', none: '无' }[o.seats] || o.seats) + '）— ' + o.schoolText });
          }));
          sel.value = start.campus;
          sel.addEventListener('change', function () { show(mine.filter(function (o) { return o.campus === sel.value; })[0]); });
          append(sec, h('div.form-row', h('label', { for: sel.id, text: '报名学校校区：' }), sel));
        } else {
          append(sec, h('p.muted', { text: '可报考校区只有 ' + start.campusText + '，已自动选定。' }));
        }
        show(start);
        append(sec, holder);
        return sec;
      });

      render(steps(STEP.oral),
        h('section.card#oral-page', h('h2', { text: '口试科目报考' }),
          h('div.tips', h('b', { text: '口试科目报考须知：' }), h('ul',
            h('li', { text: '口试科目可报考要求考生具有科目报考资格、同级别笔试科目已经报考、科目考试日期非空、校区在报名时间内、有剩余容量、费用已设且大于0。' }),
            h('li', { text: '口试报考科目的可报考校区受考生学籍校区、学籍学校口试报考设置限制，如有疑问请咨询学校相关老师。' }),
            h('li', { text: '口试报考科目为选报科目，可以不报任何口试科目。' }),
            h('li', { text: '已报未支付科目在24小时后会被系统删除。已报未支付科目在报名时间内可以取消。如已报未支付科目无法取消，请联系学校老师确认是否被集体缴费锁定。' }),
            h('li', { text: '已支付科目不可取消报考。口试准考证打印时间在首页。口试报考科目的具体考试时间、考试地点以准考证为准。' }))),
          closed ? notice('warn', closed) : null,
          (pick(c, 'announcements') || {}).province ? [h('h3', { text: '省通告' }),
            h('div.announcement#province-announcement', { text: c.announcements.province })] : null,
          seatLegend(),
          h('div#offers', sections),
          h('div.actions', h('a.btn.btn-secondary', { href: '#/registration', text: '返回' }))));
    });
  }

  /* ---------------------------------------------------------------- entry, recovery, account (guide part 二) */

  /* The dates of the sitting, as on the home page (exam days, ticket print date). */
  function examTimes(s) {
    return kvTable([
      ['考生网上报名', [dateSpan(pick(s, 'registration_opens')), ' 至 ', dateSpan(pick(s, 'registration_closes'))]],
      ['笔试', [dateSpan(pick(s, 'written_date'), true),
        h('div.muted', { text: '上午：英语、日语、德语、俄语、法语四级；下午：英语、日语、俄语、德语六级' })]],
      ['口试（选）', [h('div', dateSpan(pick(s, 'oral_date_4'), true), '：英语四级口试'),
        h('div', dateSpan(pick(s, 'oral_date_6'), true), '：英语六级口试')]],
      ['准考证打印', [h('span', '自 '), dateSpan(pick(s, 'print_opens')), ' 起']]
    ], 'exam-times');
  }

  /* The official site's first page: its five entries and the sitting's dates (GET /sitting). */
  function pageEntry() {
    if (session.token()) { location.hash = '#/home'; return; }
    var entries = [
      ['enter', '#/login', '进入报名', 'ENTRY'],
      ['entry-register', '#/register', '注册新用户', 'REGISTER NEW USER'],
      ['entry-recover', '#/recover', '找回已报名账号', 'RETRIEVE ACCOUNT'],
      ['entry-forgot', '#/forgot', '找回密码', 'RETRIEVE PASSWORD'],
      ['entry-faq', '#/faq', '常见问题', 'COMMON PROBLEM'],
      ['entry-times', '#exam-times-card', '考试时间', 'APPLICATION NOTES']
    ];
    var times = h('div#exam-times-holder', h('p.muted', { text: '正在加载考试时间……' }));
    render(h('div.entry#entry',
      h('nav.card.entry-menu', { 'aria-label': '报名入口' }, entries.map(function (e) {
        var a = h('a.entry-link#' + e[0], { href: e[1] }, h('b', { text: e[2] }), h('span', { text: e[3] }));
        if (e[0] === 'entry-times') {
          a.addEventListener('click', function (ev) {
            ev.preventDefault();
            var t = $('#exam-times-card');
            if (t) t.scrollIntoView();
          });
        }
        return a;
      })),
      h('section.card#exam-times-card', h('h2', { text: 'CET考试最新动态' }), times)));
    return once('GET', '/sitting').then(function (r) {
      var s = r.sitting || {};
      times.textContent = '';
      append(times, h('h3', { text: (s.name ? s.name.replace(/考试$/, '') : '本次') + '考试时间' }), examTimes(s),
        h('h3', { text: '笔试科目准考证打印提示' }),
        h('ol.tips',
          h('li', { text: '请考生按规定领取或自行打印准考证。' }),
          h('li', '请自行打印准考证考生于 ', dateSpan(s.print_opens, true), ' 起登录该系统进行下载及打印，考试日前均可进行操作。'),
          h('li', { text: '自行打印准考证“考生须知”中有关条形码及题目作答顺序等内容仅针对英语四级和英语六级笔试科目。' })));
    }, function (e) {
      times.textContent = '';
      append(times, notice('error', errorText(e), e && e.code));
    });
  }

  /* 找回密码: email + captcha; the same answer whether or not the email has an account. */
  function pageForgot() {
    var msg = messageSlot();
    var email = input('email', 'email', { autocomplete: 'email', required: true, placeholder: '注册时使用的邮箱' });
    var cap = captcha();
    var btn = h('button.btn', { type: 'submit', text: '找回密码' });
    var form = h('form#forgot', { novalidate: true },
      row('邮箱号', email, { required: true }), cap.el, msg.el,
      h('div.actions', btn, h('a.btn.btn-secondary', { href: '#/login', text: '返回登录' })));
    form.addEventListener('submit', busy(btn, msg, function () {
      var e = email.value.trim();
      if (!e || !cap.answer.value.trim()) { msg.error(ERROR_TEXT.missing_field); return; }
      return mutate('POST', '/password-resets', {
        email: e, captcha_id: cap.id, captcha_answer: cap.answer.value.trim()
      }).then(function () {
        render(h('section.card.narrow#forgot-done', h('h2', { text: '完成找回密码' }),
          notice('ok', '系统已把找回密码邮件发到您的邮箱，请注意查收！'),
          h('p', { text: '邮件中的链接30分钟内有效，只能使用一次。没有收到邮件时，请检查邮箱地址是否为注册时的邮箱，或查看垃圾邮件。' }),
          h('div.actions', h('a.btn', { href: '#/login', text: '返回登录' }))));
      }, function (err) { cap.refresh(); throw err; });
    }));
    render(h('section.card.narrow', h('h2', { text: '找回密码（邮箱方式）' }), form));
    email.focus();
  }

  /* The page of the mailed link ({public_url}/reset?token=...): a new password. */
  function pageReset(token) {
    var msg = messageSlot();
    var pw = input('new_password', 'password', { autocomplete: 'new-password', required: true });
    var pw2 = input('new_password2', 'password', { autocomplete: 'new-password', required: true });
    var btn = h('button.btn', { type: 'submit', text: '提交' });
    var form = h('form#reset', { novalidate: true },
      row('新密码', pw, { required: true, hint: '8至128位，须同时包含字母和数字。' }),
      row('确认新密码', pw2, { required: true }), msg.el,
      h('div.actions', btn, h('a.btn.btn-secondary', { href: '/#/forgot', text: '重新找回密码' })));
    form.addEventListener('submit', busy(btn, msg, function () {
      if (!token) { msg.error(ERROR_TEXT.reset_token_invalid); return; }
      if (!pw.value) { msg.error(ERROR_TEXT.missing_field); return; }
      if (pw.value !== pw2.value) { msg.error('两次输入的密码不一致。'); return; }
      return mutate('POST', '/password-resets/confirm', { token: token, new_password: pw.value }).then(function () {
        session.clear();
        showUser();
        render(h('section.card.narrow#reset-done', h('h2', { text: '重置密码' }),
          notice('ok', '修改密码成功！此账号在所有设备上的登录均已退出，请用新密码重新登录。'),
          h('div.actions', h('a.btn', { href: '/#/login', text: '进入报名' }))));
      });
    }));
    render(h('section.card.narrow', h('h2', { text: '重置密码' }),
      token ? null : notice('error', ERROR_TEXT.reset_token_invalid, 'reset_token_invalid'), form));
    pw.focus();
  }

  /* 找回已报名账号: the masked email of the account bound in the latest sitting. */
  function pageRecover() {
    var msg = messageSlot();
    var type = idTypeSelect('id_type', 'mainland');
    var num = input('id_number', 'text', { autocomplete: 'off', required: true });
    var name = input('name', 'text', { autocomplete: 'name', required: true });
    var cap = captcha();
    var btn = h('button.btn', { type: 'submit', text: '提交' });
    var out = h('div#recover-result');
    var form = h('form#recover', { novalidate: true },
      row('证件类型', type, { required: true }), row('证件号码', num, { required: true }),
      row('姓名', name, { required: true }), cap.el, msg.el,
      h('div.actions', btn, h('a.btn.btn-secondary', { href: '#/entry', text: '首页' })));
    form.addEventListener('submit', busy(btn, msg, function () {
      out.textContent = '';
      if (!type.value || !num.value.trim() || !name.value.trim() || !cap.answer.value.trim()) {
        msg.error(ERROR_TEXT.missing_field); return;
      }
      var bad = checkIdNumber(type.value, num.value.trim());
      if (bad) { msg.error(ERROR_TEXT[bad] || bad); return; }
      return api('POST', '/account-recovery', {
        id_type: type.value, id_number: num.value.trim(), name: name.value.trim(),
        captcha_id: cap.id, captcha_answer: cap.answer.value.trim()
      }).then(function (r) {
        cap.refresh();
        append(out, kvTable([['您的通行证账号为', r.email_masked]], 'recovered'));
        dialog('提示', [h('p', { text: '找回成功！' })], [['确定', null, { id: 'recover-ok' }]]);
      }, function (err) { cap.refresh(); throw err; });
    }));
    render(h('section.card.narrow', h('h2', { text: '最近考次报名账号找回' }),
      h('p.muted', { text: '输入报名时的证件类型、证件号码和姓名，显示最近考次报名使用的通行证账号（部分隐藏）。也可致电客服或联系学校负责老师找回。' }),
      form, out));
    num.focus();
  }

  var FAQ = [
    ['忘记了密码怎么办？', '在登录页点击“找回密码”，输入注册邮箱和验证码。系统把重置密码的链接发到该邮箱，链接30分钟内有效、只能使用一次。设置新密码后，所有设备上的登录都会退出。'],
    ['忘记了报名用的通行证账号怎么办？', '点击“找回已报名账号”，输入证件类型、证件号码和姓名，即可看到最近考次报名所用的邮箱（部分隐藏）。'],
    ['注册邮箱填错了，但记得密码？', '登录后进入“账号信息”，在“修改资料”中输入正确的邮箱和当前密码即可。原邮箱会收到一封更改通知。'],
    ['注册邮箱填错了，又忘记了密码？', '若尚未通过学籍验证（未报名），重新注册一个通行证即可。若已经报名，请用正确的邮箱重新注册，登录后在“账号信息”中查看通行证ID，致电客服提供通行证ID和新邮箱，客服核实后把报名信息重新绑定到新账号。'],
    ['修改密码后为什么其他设备退出了登录？', '为了账号安全，修改或重置密码后，其他设备上的登录会全部退出，请用新密码重新登录。']
  ];

  function pageFaq() {
    render(h('section.card#faq', h('h2', { text: '常见问题' }),
      h('dl.faq', FAQ.map(function (q) { return [h('dt', { text: q[0] }), h('dd', { text: q[1] })]; })),
      h('div.actions', h('a.btn.btn-secondary', { href: session.token() ? '#/home' : '#/entry', text: '返回首页' }))));
  }

  /* 账号信息: the 通行证ID a candidate reads to support, 修改资料 (email), 修改密码. */
  function pageAccount() {
    var my = routeNo;
    return loadMe(true).then(function (me) {
      if (my !== routeNo) return;
      var emailMsg = messageSlot(), pwMsg = messageSlot();
      var newEmail = input('new_email', 'email', { autocomplete: 'email', required: true });
      var emailPw = input('email_password', 'password', { autocomplete: 'current-password', required: true });
      var emailBtn = h('button.btn', { type: 'submit', text: '提交' });
      var emailForm = h('form#change-email', { novalidate: true },
        row('新电子邮箱', newEmail, { required: true, hint: '新邮箱即新的通行证账号；原邮箱会收到更改通知。' }),
        row('当前密码', emailPw, { required: true }), emailMsg.el, h('div.actions', emailBtn));
      var fe = fieldErrors();
      var wrongPassword = function (input) {
        return function (err) {
          if (err && err.code === 'invalid_credentials') { fe.set(input, '当前密码错误。'); return; }
          if (fe.route(err, { new_email: newEmail, new_password: pw1 },
            { email_taken: newEmail, invalid_email: newEmail, weak_password: pw1 })) return;
          throw err;
        };
      };
      emailForm.addEventListener('submit', busy(emailBtn, emailMsg, function () {
        fe.clear();
        var e = newEmail.value.trim();
        if (!e || !emailPw.value) { emailMsg.error(ERROR_TEXT.missing_field); return; }
        return mutate('PUT', '/account/email', { new_email: e, password: emailPw.value }).then(function (r) {
          session.set(session.token(), r.email || e);
          state.me = null;
          emailPw.value = '';
          return loadMe(true).then(function (m2) {
            $('#account-email').textContent = pick(m2, 'email') || e;
            emailMsg.ok('更改成功！请以后使用新邮箱 ' + (r.email || e) + ' 登录。');
          });
        }, wrongPassword(emailPw));
      }));
      var oldPw = input('password', 'password', { autocomplete: 'current-password', required: true });
      var pw1 = input('new_password', 'password', { autocomplete: 'new-password', required: true });
      var pw2 = input('new_password2', 'password', { autocomplete: 'new-password', required: true });
      var pwBtn = h('button.btn', { type: 'submit', text: '提交' });
      var pwForm = h('form#change-password', { novalidate: true },
        row('当前密码', oldPw, { required: true }),
        row('新密码', pw1, { required: true, hint: '8至128位，须同时包含字母和数字。' }),
        row('确认新密码', pw2, { required: true }), pwMsg.el, h('div.actions', pwBtn));
      pwForm.addEventListener('submit', busy(pwBtn, pwMsg, function () {
        fe.clear();
        if (!oldPw.value || !pw1.value) { pwMsg.error(ERROR_TEXT.missing_field); return; }
        if (pw1.value !== pw2.value) { pwMsg.error('两次输入的密码不一致。'); return; }
        return mutate('PUT', '/account/password', { password: oldPw.value, new_password: pw1.value }).then(function (r) {
          oldPw.value = pw1.value = pw2.value = '';
          pwMsg.ok('密码修改成功！' + (r.sessions_ended ? '其他设备上的 ' + r.sessions_ended + ' 个登录已退出。' : ''));
        }, wrongPassword(oldPw));
      }));
      render(h('section.card#account', h('h2', { text: '账号信息' }),
        kvTable([['通行证ID', h('code#account-id', { text: String(pick(me, 'account_id') || '').toUpperCase() })],
          ['电子邮箱', h('span#account-email', { text: pick(me, 'email') || '' })],
          ['报名状态', meBound(me) ? '已绑定考生报名信息' : '未绑定考生报名信息']], 'account-info'),
        h('p.muted', { text: '联系客服时请提供通行证ID。' })),
        h('section.card', h('h3', { text: '修改资料（电子邮箱）' }), emailForm),
        h('section.card', h('h3', { text: '修改密码' }), pwForm),
        h('div.actions', h('a.btn.btn-secondary', { href: '#/home', text: '返回首页' })));
    });
  }

  /* ---------------------------------------------------------------- router */

  var PUBLIC = { login: true, register: true, entry: true, forgot: true, reset: true, recover: true, faq: true };

  /* a page that loads before it renders drops its render when route() ran again meanwhile */
  var routeNo = 0;

  function route() {
    pollToken++;
    routeNo++;
    if (openDialog) { openDialog.quiet = true; openDialog.close(); } /* leaving the page: no onClose */
    /* the mailed link is a path ({public_url}/reset?token=...), the rest are hash routes */
    var resetToken = /\/reset$/.test(location.pathname) && !location.hash ?
      (new URLSearchParams(location.search).get('token') || '') : null;
    var parts = (location.hash.replace(/^#\/?/, '') || (resetToken !== null ? 'reset' :
      session.token() ? 'home' : 'entry')).split(/[/?]/);
    var name = parts[0];
    if (name === 'home' && !session.token()) name = 'entry'; /* logged out, the first page is the entry */
    showUser();
    if (!PUBLIC[name] && !session.token()) {
      if (name === 'pay') sessionStorage.setItem('cet.afterLogin', location.hash);
      location.hash = '#/login';
      return;
    }
    var pages = {
      login: pageLogin, register: pageRegister, home: pageHome, agreement: pageAgreement,
      qualify: pageQualify, registration: function () { return pageRegistration(false); },
      review: function () { return pageRegistration(true); },
      written: pageWritten, oral: pageOral,
      pay: function () { return pagePay(decodeURIComponent(parts[1] || '')); },
      entry: pageEntry, forgot: pageForgot, recover: pageRecover, faq: pageFaq, account: pageAccount,
      reset: function () {
        return pageReset(resetToken !== null ? resetToken :
          new URLSearchParams(location.hash.split('?')[1] || '').get('token') || '');
      }
    };
    var page = pages[name] || pageHome;
    /* the header's 姓名 and 考次 after a full page load (back from the payment
       platform on #/pay, a reload on #/agreement): pages that need /me load it
       afresh; the others still show whose registration this is */
    if (!state.me && !PUBLIC[name]) loadMe().catch(function () {});
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
    var done = function () { session.clear(); showUser(); location.hash = '#/login'; route(); };
    api('DELETE', '/sessions').then(done, done);
  });

  window.addEventListener('hashchange', route);
  route();
})();
