/*
 * admin.js: the staff pages (学校 / 考区管理员) over the admin API of docs/openapi.yaml.
 * One page, views by the URL hash (#/dashboard, #/reviews, ...); the staff token is kept
 * in sessionStorage and sent as a bearer token. No build step, no inline script (CSP).
 */
(function () {
  'use strict';

  var API = '/api/v1';
  var TOKEN_KEY = 'cetreg.admin.token';
  var state = { dash: null };

  var ERRORS = {
    invalid_credentials: '用户名或密码错误。', captcha_invalid: '验证码错误或已过期，请重新输入。',
    rate_limited: '尝试次数过多，请稍后再试。', unauthorized: '登录已失效，请重新登录。',
    forbidden: '无权操作：超出您的管理范围。', capacity_below_live: '容量不能低于已报名人数。',
    roster_refused: '文件中有错误行，未导入任何数据。', roster_other_school: '文件中含有其他学校的记录，整个文件被拒绝。',
    review_not_editable: '该申请已处理。', registration_paid: '该报名已缴费。', payment_pending: '考生有待支付订单。',
    nothing_to_pay: '所选报名未锁定，请先锁定。', invalid_field: '填写的内容不正确。', missing_field: '有必填项未填写。',
    offer_not_found: '该校区未开设此科目。', announcement_not_found: '公告不存在。',
    sheet_unreadable: '无法读取该文件：请上传 CSV 或 .xlsx 文件。', storage_unavailable: '服务器繁忙，请稍后重试。',
    bad_query: '查询内容格式不正确（通行证ID为32位，证件号码请核对）。',
    roster_not_found: '没有与证件类型、证件号码和姓名完全一致的学籍信息。',
    record_not_bound: '该学籍信息尚未绑定任何账号，考生可直接用新账号绑定。',
    account_not_found: '没有该通行证ID的账号，请核对。',
    already_bound: '目标账号已绑定考生信息，不能换绑到该账号。', id_type_refused: '该证件类型不能报名。',
    invalid_id_number: '证件号码格式不正确。', id_check_digit: '身份证号码校验位不正确。'
  };
  var ACTIONS = {
    review_decide: '六级资格审核', lock: '锁定报名', unlock: '解锁报名', group_pay: '集体缴费',
    capacity: '修改容量', offer_set: '修改考点设置', school_settings: '学校设置', announce_post: '发布公告',
    announce_delete: '删除公告', roster_import: '导入学籍名单', staff_add: '添加管理员', demo: '演示数据',
    refund: '退款', amount_mismatch: '金额不符', rebind: '换绑', account_lookup: '账号查询'
  };
  var STATES = { unpaid: '未缴费', locked: '已锁定', paid: '已缴费', pending: '待审核', approved: '已通过',
    rejected: '未通过', auto_approved: '自动通过' };
  var PHASES = { none: '未设置考次', before: '未开始', lookup: '资格查询', open: '报名中', closed: '报名已结束',
    print: '准考证打印' };

  /* ---- small DOM helpers ---- */
  function $(sel) { return document.querySelector(sel); }
  function h(tag, attrs) {
    var parts = tag.split('.');
    var name = parts[0].split('#');
    var el = document.createElement(name[0]);
    if (name[1]) el.id = name[1];
    if (parts.length > 1) el.className = parts.slice(1).join(' ');
    var kids = Array.prototype.slice.call(arguments, 2);
    if (attrs && (typeof attrs !== 'object' || attrs.nodeType || Array.isArray(attrs))) {
      kids.unshift(attrs);
      attrs = null;
    }
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'text') el.textContent = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else if (k === 'checked' || k === 'disabled' || k === 'value') el[k] = v;
      else el.setAttribute(k, v === true ? '' : v);
    });
    (function add(list) {
      list.forEach(function (c) {
        if (c === null || c === undefined || c === false) return;
        if (Array.isArray(c)) add(c);
        else el.appendChild(c.nodeType ? c : document.createTextNode(String(c)));
      });
    })(kids);
    return el;
  }
  function msg(kind, text) { return h('p.msg.msg-' + kind, { role: kind === 'error' ? 'alert' : 'status', text: text }); }
  function yuan(fen) { return (fen / 100).toFixed(2); }
  function shortTime(t) { return t ? t.slice(0, 16).replace('T', ' ') : '—'; }
  function localInput(t) { return t ? t.slice(0, 16) : ''; }
  function rfc3339(local) { return local ? local + ':00+08:00' : null; }
  function errText(e) {
    var c = e && e.code;
    return (c && ERRORS[c]) || (e && e.message) || '操作失败，请重试。';
  }

  /* ---- the API ---- */
  var session = {
    token: function () { return sessionStorage.getItem(TOKEN_KEY); },
    set: function (t) { if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY); }
  };
  function key() { return 'adm-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10); }
  function request(method, path, body, opts) {
    opts = opts || {};
    var headers = {};
    if (session.token()) headers.Authorization = 'Bearer ' + session.token();
    var init = { method: method, headers: headers };
    if (opts.raw) {
      headers['Content-Type'] = opts.type || 'application/octet-stream';
      init.body = opts.raw;
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (method !== 'GET' && !opts.raw && path.indexOf('/sessions') < 0) headers['Idempotency-Key'] = key();
    return fetch(API + path, init);
  }
  function api(method, path, body, opts) {
    return request(method, path, body, opts).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
        if (r.status === 401 && path !== '/admin/sessions') { session.set(null); go('login'); }
        if (!r.ok) {
          var err = (j && j.error) || { code: 'http_' + r.status, message: 'HTTP ' + r.status };
          err.status = r.status;
          err.body = j;
          throw err;
        }
        return j;
      });
    });
  }

  /* ---- frame ---- */
  function go(view) { if (location.hash !== '#/' + view) location.hash = '#/' + view; else render(); }
  function page(title) {
    var app = $('#app');
    app.textContent = '';
    var card = h('section.card', h('h2', { text: title }));
    app.appendChild(card);
    document.title = title + ' · CET报名管理';
    return card;
  }
  function showFrame(on) {
    $('#nav').hidden = !on;
    $('#who').hidden = !on;
  }
  function markNav(view) {
    Array.prototype.forEach.call(document.querySelectorAll('#nav a'), function (a) {
      a.classList.toggle('active', a.getAttribute('data-view') === view);
    });
  }
  function loadDash(force) {
    if (state.dash && !force) return Promise.resolve(state.dash);
    return api('GET', '/admin/dashboard').then(function (d) {
      state.dash = d;
      var role = d.staff.role === 'province' ? '考区管理员' : '学校管理员';
      $('#who-name').textContent = d.staff.user + '（' + role + ' ' + d.staff.scope + '）';
      var b = $('#nav-pending');
      b.hidden = !d.pending_reviews;
      b.textContent = d.pending_reviews;
      return d;
    });
  }
  function schoolName(code) {
    var s = (state.dash && state.dash.schools || []).filter(function (x) { return x.code === code; })[0];
    return s ? s.name : code;
  }

  /* ---- 登录 ---- */
  function viewLogin() {
    showFrame(false);
    var app = $('#app');
    app.textContent = '';
    var user = h('input', { id: 'user', type: 'text', autocomplete: 'username', required: true });
    var pw = h('input', { id: 'password', type: 'password', autocomplete: 'current-password', required: true });
    var ans = h('input', { id: 'captcha_answer', type: 'text', autocomplete: 'off', maxlength: '8',
      placeholder: '请输入验证码' });
    var img = h('img', { alt: '验证码（点击刷新）', title: '点击刷新验证码' });
    var cap = { id: '' };
    function refresh() {
      ans.value = '';
      return api('POST', '/captcha', {}).then(function (r) { cap.id = r.captcha_id; img.src = r.image; },
        function () { img.alt = '验证码加载失败，点击重试'; });
    }
    img.addEventListener('click', refresh);
    var out = h('div');
    var form = h('form.card.narrow', { id: 'login-form' },
      h('h2', { text: '管理员登录' }),
      h('div.form-row', h('label', { for: 'user', text: '用户名' }), user),
      h('div.form-row', h('label', { for: 'password', text: '密码' }), pw),
      h('div.form-row', h('label', { for: 'captcha_answer', text: '验证码' }), h('div.captcha-row', ans, img)),
      out,
      h('button.btn', { type: 'submit', id: 'login', text: '登录' }),
      h('p.muted', { text: '学校管理员管理本校数据，考区管理员管理本考区各校数据。所有操作记入操作日志。' }));
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      out.textContent = '';
      api('POST', '/admin/sessions', { user: user.value.trim(), password: pw.value, captcha_id: cap.id,
        captcha_answer: ans.value.trim() }).then(function (r) {
        session.set(r.token);
        state.dash = null;
        go('dashboard');
      }, function (e) { out.appendChild(msg('error', errText(e))); refresh(); });
    });
    app.appendChild(form);
    refresh();
    user.focus();
  }

  /* ---- 首页概况 ---- */
  function viewDashboard() {
    return loadDash(true).then(function (d) {
      var card = page('首页概况');
      var sitting = d.sitting || {};
      var regs = 0, paid = 0, left = 0;
      d.offers.forEach(function (o) { regs += o.own_registrations; paid += o.own_paid; left += o.seats_left; });
      card.appendChild(h('div.stats',
        h('div.stat', '当前阶段', h('b', { id: 'phase', text: PHASES[d.phase] || d.phase })),
        h('div.stat', '本范围考生报名', h('b', { text: regs })),
        h('div.stat', '其中已缴费', h('b', { text: paid })),
        h('div.stat', '剩余座位', h('b', { text: left })),
        h('div.stat', '待审核六级资格', h('b', h('a', { href: '#/reviews', id: 'pending-count', text: d.pending_reviews })))));
      if (sitting.name) card.appendChild(h('p.muted', { text: sitting.name + '　报名时间：' +
        shortTime(sitting.registration_opens) + ' 至 ' + shortTime(sitting.registration_closes) }));
      var t = h('table', h('thead', h('tr', ['学校', '校区', '科目', '容量', '已报名（全部）', '剩余座位',
        '本范围报名', '本范围已缴费', '报名费（元）', '报名时间'].map(function (x) { return h('th', { text: x }); }))),
        h('tbody', d.offers.map(function (o) {
          return h('tr', h('td', { text: schoolName(o.school) }), h('td.nw', { text: o.campus + ' ' + o.campus_name }),
            h('td.nw', { text: o.subject + ' ' + o.subject_name }), h('td.n', { text: o.capacity }),
            h('td.n', { text: o.live }), h('td.n', { text: o.seats_left }), h('td.n', { text: o.own_registrations }),
            h('td.n', { text: o.own_paid }), h('td.n', { text: yuan(o.fee) }),
            h('td.nw', { text: shortTime(o.window_opens) + ' — ' + shortTime(o.window_closes) }));
        })));
      card.appendChild(h('h3', { text: '各校区科目报名情况' }));
      card.appendChild(h('div.table-wrap', t));
    });
  }

  /* ---- 六级资格审核 ---- */
  function viewReviews() {
    return api('GET', '/admin/reviews?state=pending').then(function (r) {
      var card = page('六级资格审核（待审核）');
      card.appendChild(h('p.muted', { text: '按申请时间先后排列。请核对考生所填四级准考证号对应的成绩、姓名与证件号码后审核。' }));
      var out = h('div');
      card.appendChild(out);
      if (!r.reviews.length) { card.appendChild(msg('ok', '没有待审核的申请。')); return; }
      var body = h('tbody');
      r.reviews.forEach(function (v) {
        var c = v.candidate, s = v.cet4_score;
        var score = s ? h('div', s.score + ' 分（' + s.year + ' 年）',
          h('div', h('span.tag.' + (s.id_matches ? 'tag-ok' : 'tag-bad'), { text: s.id_matches ? '证件号一致' : '证件号不一致' }),
            ' ', h('span.tag.' + (s.name_matches ? 'tag-ok' : 'tag-bad'), { text: s.name_matches ? '姓名一致' : '姓名不一致' })),
          s.name_matches ? null : h('div.muted', { text: '成绩单姓名：' + s.name })) : h('span.tag.tag-bad', { text: '查无成绩' });
        var tr = h('tr', { 'data-account': v.account_id },
          h('td.nw', { text: shortTime(v.created_at) }),
          h('td.nw', { text: c.name }), h('td.mono', { text: c.id_number }),
          h('td', { text: [c.department, c.major, c.class_name].filter(Boolean).join(' / ') }),
          h('td.nw', { text: c.student_no + ' · ' + c.entry_year + '级' }),
          h('td.mono', { text: v.ticket }), h('td', score),
          h('td.nw', h('button.btn.btn-ok.btn-small', { text: '通过', onclick: function () { decide(v, 'approve', tr); } }), ' ',
            h('button.btn.btn-danger.btn-small', { text: '不通过', onclick: function () { decide(v, 'reject', tr); } })));
        body.appendChild(tr);
      });
      card.appendChild(h('div.table-wrap', h('table#reviews', h('thead', h('tr', ['申请时间', '姓名', '证件号码', '院系 / 专业 / 班级',
        '学号', '所填四级准考证号', '四级成绩核对', '审核'].map(function (x) { return h('th', { text: x }); }))), body)));
      function decide(v, d, tr) {
        if (!window.confirm((d === 'approve' ? '确认通过 ' : '确认不通过 ') + v.candidate.name + ' 的六级资格申请？')) return;
        api('POST', '/admin/reviews/' + v.account_id, { decision: d }).then(function (res) {
          tr.querySelector('td:last-child').textContent = STATES[res.state] || res.state;
          out.textContent = '';
          out.appendChild(msg('ok', v.candidate.name + '：' + (STATES[res.state] || res.state)));
          loadDash(true);
        }, function (e) { out.textContent = ''; out.appendChild(msg('error', errText(e))); });
      }
    });
  }

  /* ---- 学籍名单导入 ---- */
  function viewRoster() {
    var card = page('学籍名单导入');
    card.appendChild(h('p.muted', { text: '支持 Excel（.xlsx）和 CSV 文件（UTF-8、GBK 编码均可，逗号或制表符分隔，中文或英文表头）。' +
      '请先“检查文件”：有错误时列出每一行的问题，不导入任何数据；检查无误后再“确认导入”。整个文件要么全部导入，要么全部不导入。' }));
    var file = h('input', { type: 'file', id: 'roster-file', accept: '.csv,.txt,.xlsx,text/csv' });
    var check = h('button.btn.btn-plain', { type: 'button', id: 'roster-check', text: '检查文件（不导入）' });
    var apply = h('button.btn', { type: 'button', id: 'roster-apply', text: '确认导入', disabled: true });
    var out = h('div', { id: 'roster-result' });
    card.appendChild(h('div.row', file, check, apply));
    card.appendChild(out);
    var checked = null;
    file.addEventListener('change', function () { apply.disabled = true; checked = null; out.textContent = ''; });
    function send(dry) {
      var f = file.files[0];
      if (!f) { out.textContent = ''; out.appendChild(msg('warn', '请先选择文件。')); return; }
      out.textContent = '';
      out.appendChild(h('p.muted', { text: dry ? '正在检查……' : '正在导入……' }));
      var type = /\.xlsx$/i.test(f.name) ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'text/csv';
      f.arrayBuffer().then(function (buf) {
        return api('POST', '/admin/roster?dry_run=' + (dry ? 1 : 0), undefined, { raw: buf, type: type });
      }).then(function (r) {
        out.textContent = '';
        if (dry) {
          out.appendChild(msg('ok', '检查通过：共 ' + r.rows + ' 行，将新增 ' + r.inserted + ' 条、更新 ' + r.updated +
            ' 条。尚未导入，请点击“确认导入”。'));
          checked = f;
          apply.disabled = false;
        } else {
          out.appendChild(msg('ok', '导入完成：共 ' + r.rows + ' 行，新增 ' + r.inserted + ' 条、更新 ' + r.updated + ' 条。'));
          apply.disabled = true;
        }
      }, function (e) {
        out.textContent = '';
        apply.disabled = true;
        var b = e.body || {};
        out.appendChild(msg('error', errText(e) + (b.error_count ? '（共 ' + b.error_count + ' 处错误，未导入任何数据）' : '')));
        if (b.errors && b.errors.length) {
          out.appendChild(h('div.table-wrap', h('table#roster-errors', h('thead', h('tr', ['行号', '列', '错误代码', '说明']
            .map(function (x) { return h('th', { text: x }); }))), h('tbody', b.errors.map(function (x) {
            return h('tr.bad', h('td.n', { text: x.line || '—' }), h('td.nw', { text: x.field || '—' }),
              h('td.mono', { text: x.code }), h('td', { text: x.message || '' }));
          })))));
        }
      });
    }
    check.addEventListener('click', function () { send(true); });
    apply.addEventListener('click', function () {
      if (checked !== file.files[0]) { apply.disabled = true; return; }
      send(false);
    });
    return Promise.resolve();
  }

  /* ---- 考点与科目设置 ---- */
  function viewOffers() {
    return loadDash(true).then(function (d) {
      var card = page('考点与科目设置');
      card.appendChild(h('p.muted', { text: '容量不能低于已报名人数；报名费以元为单位；报名时间为北京时间。每次保存都记入操作日志。' }));
      var out = h('div', { id: 'offers-result' });
      card.appendChild(out);
      var body = h('tbody');
      d.offers.forEach(function (o) {
        var cap = h('input.num', { type: 'number', min: String(o.live), value: String(o.capacity), 'aria-label': '容量' });
        var fee = h('input.num', { type: 'number', min: '0', step: '0.01', value: yuan(o.fee), 'aria-label': '报名费' });
        var wo = h('input', { type: 'datetime-local', value: localInput(o.window_opens), 'aria-label': '开始' });
        var wc = h('input', { type: 'datetime-local', value: localInput(o.window_closes), 'aria-label': '结束' });
        var save = h('button.btn.btn-small', { text: '保存' });
        var tr = h('tr', { 'data-offer': o.campus + '/' + o.subject },
          h('td.nw', { text: o.campus + ' ' + o.campus_name }), h('td.nw', { text: o.subject + ' ' + o.subject_name }),
          h('td.n', { text: o.live }), h('td', cap), h('td', fee), h('td', wo), h('td', wc), h('td', save));
        save.addEventListener('click', function () {
          var b = { capacity: parseInt(cap.value, 10), fee: Math.round(parseFloat(fee.value) * 100) };
          /* a window is sent only when changed (the input has minutes, the offer seconds) */
          if (wo.value && wo.value !== localInput(o.window_opens)) b.window_opens = rfc3339(wo.value);
          if (wc.value && wc.value !== localInput(o.window_closes)) b.window_closes = rfc3339(wc.value);
          out.textContent = '';
          api('PUT', '/admin/offers/' + o.campus + '/' + o.subject, b).then(function (r) {
            out.appendChild(msg('ok', o.campus + ' ' + o.subject_name + '：已保存（容量 ' + r.capacity + '，剩余 ' + r.seats_left +
              '，报名费 ' + yuan(r.fee) + ' 元）。'));
          }, function (e) { out.appendChild(msg('error', o.campus + ' ' + o.subject_name + '：' + errText(e))); });
        });
        body.appendChild(tr);
      });
      card.appendChild(h('div.table-wrap', h('table#offers', h('thead', h('tr', ['校区', '科目', '已报名', '容量', '报名费（元）',
        '报名开始', '报名结束', ''].map(function (x) { return h('th', { text: x }); }))), body)));
      var sc = h('section.card', h('h2', { text: '学校设置' }));
      d.schools.forEach(function (s) {
        var cb = h('input', { type: 'checkbox', id: 'oral-' + s.code, checked: s.oral_elsewhere });
        var r = h('span');
        cb.addEventListener('change', function () {
          r.textContent = '';
          api('PUT', '/admin/schools/' + s.code + '/settings', { oral_elsewhere: cb.checked }).then(function () {
            r.appendChild(h('span.tag.tag-ok', { text: '已保存' }));
          }, function (e) { cb.checked = !cb.checked; r.appendChild(h('span.tag.tag-bad', { text: errText(e) })); });
        });
        sc.appendChild(h('div.row', h('b', { text: s.code + ' ' + s.name }),
          h('label', cb, ' 允许本校考生在本考区其他学校的校区报考口试'), r));
      });
      $('#app').appendChild(sc);
    });
  }

  /* ---- 公告 ---- */
  function viewAnnouncements() {
    return Promise.all([loadDash(), api('GET', '/admin/announcements')]).then(function (res) {
      var d = res[0], list = res[1].announcements;
      var card = page('公告');
      var out = h('div', { id: 'ann-result' });
      var title = h('input', { type: 'text', id: 'ann-title', maxlength: '60' });
      var body = h('textarea', { id: 'ann-body' });
      var scope = h('select', { id: 'ann-scope' });
      if (d.staff.role === 'province') {
        scope.appendChild(h('option', { value: 'province', text: '本考区（' + d.staff.scope + '）全部考生' }));
        d.schools.forEach(function (s) { scope.appendChild(h('option', { value: 'school:' + s.code, text: s.name })); });
      } else {
        scope.appendChild(h('option', { value: 'school:' + d.staff.scope, text: '本校考生（' + schoolName(d.staff.scope) + '）' }));
      }
      var post = h('button.btn', { type: 'button', id: 'ann-post', text: '发布' });
      card.appendChild(h('div.form-row', h('label', { for: 'ann-scope', text: '发布范围' }), scope));
      card.appendChild(h('div.form-row', h('label', { for: 'ann-title', text: '标题' }), title));
      card.appendChild(h('div.form-row', h('label', { for: 'ann-body', text: '内容' }), body));
      card.appendChild(h('div.row', post, h('span.muted', { text: '考生在报名信息页看到本校和本考区最新的公告。' })));
      card.appendChild(out);
      post.addEventListener('click', function () {
        var b = { title: title.value.trim(), body: body.value.trim() };
        if (scope.value === 'province') b.scope = 'province';
        else { b.scope = 'school'; b.school = scope.value.slice(7); }
        out.textContent = '';
        api('POST', '/admin/announcements', b).then(function () { render(); }, function (e) {
          out.appendChild(msg('error', errText(e)));
        });
      });
      var lc = h('section.card', h('h2', { text: '已发布的公告' }));
      if (!list.length) lc.appendChild(h('p.muted', { text: '暂无公告。' }));
      list.slice().reverse().forEach(function (a) {
        var del = h('button.btn.btn-plain.btn-small', { text: '删除' });
        del.addEventListener('click', function () {
          if (!window.confirm('确认删除公告“' + a.title + '”？')) return;
          api('DELETE', '/admin/announcements/' + a.id).then(function () { render(); }, function (e) {
            lc.insertBefore(msg('error', errText(e)), lc.children[1]);
          });
        });
        lc.appendChild(h('div.card.ann', { 'data-id': a.id },
          h('div.row', h('b', { text: a.title }), h('span.tag.tag-warn', { text: a.scope === 'province' ? '考区 ' + a.code : schoolName(a.code) }),
            h('span.muted', { text: shortTime(a.posted_at) + ' · ' + a.posted_by }), del),
          h('p', { text: a.body })));
      });
      $('#app').appendChild(lc);
    });
  }

  /* ---- 集体缴费: choose, lock, record the payment, unlock ---- */
  function viewGroup() {
    return api('GET', '/admin/registrations?state=all').then(function (r) {
      var card = page('集体缴费');
      card.appendChild(h('p.muted', { text: '勾选考生的报名科目：先“锁定”（锁定后考生不能自行支付，也不会过期），学校统一收费后“记录缴费”；' +
        '不再集体缴费的可“解锁”（解锁后重新保留 24 小时）。' }));
      var out = h('div', { id: 'group-result' });
      if (state.flash) { out = state.flash; state.flash = null; }
      var rows = r.registrations.filter(function (x) { return x.state !== 'paid'; });
      var paid = r.registrations.length - rows.length;
      var boxes = [];
      var body = h('tbody', rows.length ? null : h('tr', h('td', { colspan: '8', class: 'muted', text: '暂无未缴费的报名。' })), rows.map(function (x) {
        var cb = h('input', { type: 'checkbox', 'aria-label': '选择 ' + x.name + ' ' + x.subject });
        boxes.push({ cb: cb, reg: x });
        return h('tr', h('td', cb), h('td.nw', { text: x.name }), h('td.mono', { text: x.id_number }),
          h('td.nw', { text: x.subject }), h('td.nw', { text: x.campus }), h('td.n', { text: yuan(x.fee) }),
          h('td.nw', h('span.tag.' + (x.state === 'locked' ? 'tag-warn' : 'tag-ok'), { text: STATES[x.state] + (x.in_order ? '（支付中）' : '') })),
          h('td.nw', { text: shortTime(x.expires_at) }));
      }));
      var all = h('input', { type: 'checkbox', 'aria-label': '全选' });
      all.addEventListener('change', function () { boxes.forEach(function (b) { b.cb.checked = all.checked; }); });
      function chosen() { return boxes.filter(function (b) { return b.cb.checked; }).map(function (b) { return b.reg; }); }
      function runAll(list, fn, done) {
        var ok = 0, bad = [];
        return list.reduce(function (p, x) {
          return p.then(function () { return fn(x).then(function () { ok++; }, function (e) { bad.push(x.name + ' ' + (x.subject || '') + '：' + errText(e)); }); });
        }, Promise.resolve()).then(function () {
          out.textContent = '';
          out.appendChild(msg(bad.length ? 'warn' : 'ok', done + ' ' + ok + ' 项' + (bad.length ? '，失败 ' + bad.length + ' 项' : '') + '。'));
          bad.forEach(function (b) { out.appendChild(msg('error', b)); });
          state.flash = out.cloneNode(true); /* shown again once the list is reloaded */
        });
      }
      function lock(flag) {
        var l = chosen();
        if (!l.length) { out.textContent = ''; out.appendChild(msg('warn', '请先勾选报名科目。')); return; }
        runAll(l, function (x) {
          return api('POST', '/admin/registrations/lock', { id_type: x.id_type, id_number: x.id_number, subject: x.subject, locked: flag });
        }, flag ? '已锁定' : '已解锁').then(function () { setTimeout(render, 1200); });
      }
      function pay() {
        var by = {};
        chosen().forEach(function (x) {
          var k = x.id_type + ':' + x.id_number;
          (by[k] = by[k] || { id_type: x.id_type, id_number: x.id_number, name: x.name, subjects: [], total: 0 });
          by[k].subjects.push(x.subject);
          by[k].total += x.fee;
        });
        var l = Object.keys(by).map(function (k) { return by[k]; });
        if (!l.length) { out.textContent = ''; out.appendChild(msg('warn', '请先勾选已锁定的报名科目。')); return; }
        var sum = l.reduce(function (s, x) { return s + x.total; }, 0);
        if (!window.confirm('记录 ' + l.length + ' 名考生的集体缴费，共 ' + yuan(sum) + ' 元？')) return;
        runAll(l, function (x) {
          return api('POST', '/admin/group-payments', { id_type: x.id_type, id_number: x.id_number, subjects: x.subjects });
        }, '已记录缴费').then(function () { setTimeout(render, 1200); });
      }
      card.appendChild(h('div.row', h('button.btn.btn-plain', { type: 'button', id: 'group-lock', text: '锁定所选', onclick: function () { lock(true); } }),
        h('button.btn', { type: 'button', id: 'group-pay', text: '记录缴费', onclick: pay }),
        h('button.btn.btn-plain', { type: 'button', id: 'group-unlock', text: '解锁所选', onclick: function () { lock(false); } }),
        h('span.muted', { text: '未缴费 ' + rows.length + ' 项，已缴费 ' + paid + ' 项' })));
      card.appendChild(out);
      card.appendChild(h('div.table-wrap', h('table#group', h('thead', h('tr', h('th', all), ['姓名', '证件号码', '科目', '校区', '报名费（元）',
        '状态', '保留截止'].map(function (x) { return h('th', { text: x }); }))), body)));
    });
  }

  /* ---- 数据导出 ---- */
  function viewExports() {
    var card = page('数据导出');
    card.appendChild(h('p.muted', { text: 'CSV 文件可直接用 Excel 打开（含 BOM，中文不乱码，证件号码保持文本）；金额以元为单位、保留两位小数。' }));
    var out = h('div', { id: 'export-result' });
    var kinds = [['candidates', '考生名单'], ['registrations', '报名明细'], ['orders', '缴费订单'], ['reviews', '六级资格审核']];
    var t = h('table', h('tbody', kinds.map(function (k) {
      return h('tr', h('td', { text: k[1] }), h('td',
        h('button.btn.btn-plain.btn-small', { type: 'button', id: 'export-' + k[0] + '-csv', text: '下载 CSV', onclick: function () { dl(k, 'csv'); } }), ' ',
        h('button.btn.btn-plain.btn-small', { type: 'button', id: 'export-' + k[0] + '-xlsx', text: '下载 Excel（.xlsx）', onclick: function () { dl(k, 'xlsx'); } })));
    })));
    card.appendChild(h('div.table-wrap', t));
    card.appendChild(out);
    function dl(k, fmt) {
      out.textContent = '';
      request('GET', '/admin/exports/' + k[0] + '?format=' + fmt).then(function (r) {
        if (!r.ok) return r.json().then(function (j) { throw j.error; });
        var rows = r.headers.get('X-Rows');
        return r.blob().then(function (b) {
          var a = h('a', { href: URL.createObjectURL(b), download: k[1] + '.' + fmt });
          document.body.appendChild(a);
          a.click();
          a.remove();
          out.appendChild(msg('ok', k[1] + '（' + fmt.toUpperCase() + '）已下载，共 ' + rows + ' 行。'));
        });
      }).catch(function (e) { out.appendChild(msg('error', errText(e))); });
    }
    return Promise.resolve();
  }

  /* ---- 操作日志: the hash chain, re-verified here ---- */
  function hex(buf) { return Array.prototype.map.call(new Uint8Array(buf), function (b) { return ('0' + b.toString(16)).slice(-2); }).join(''); }
  function entryHash(e) {
    var enc = new TextEncoder();
    var parts = [String(e.seq), e.at, e.actor, e.action, e.target, e.detail, e.prev_hash].map(function (s) {
      var b = enc.encode(s);
      return [enc.encode(b.length + ':'), b, enc.encode(',')];
    });
    var flat = [].concat.apply([], parts);
    var n = flat.reduce(function (s, b) { return s + b.length; }, 0), all = new Uint8Array(n), o = 0;
    flat.forEach(function (b) { all.set(b, o); o += b.length; });
    return crypto.subtle.digest('SHA-256', all).then(hex);
  }
  function loadAudit() {
    var entries = [];
    function more(after) {
      return api('GET', '/admin/audit?after=' + after).then(function (r) {
        entries = entries.concat(r.entries);
        return r.entries.length ? more(r.next_after) : entries;
      });
    }
    return more(0);
  }
  function viewAudit() {
    return loadAudit().then(function (entries) {
      var card = page('操作日志');
      card.appendChild(h('p.muted', { text: '日志为哈希链：每条记录的哈希覆盖上一条记录，任何修改、删除或调换都会被发现。' +
        '其他管理范围的记录只显示其在链中的位置（已隐去内容）。' }));
      var out = h('div', { id: 'audit-verify' });
      card.appendChild(out);
      var mine = entries.filter(function (e) { return !e.redacted; });
      var body = h('tbody', mine.slice().reverse().slice(0, 500).map(function (e) {
        return h('tr', h('td.n', { text: e.seq }), h('td.nw', { text: shortTime(e.at) }), h('td.nw', { text: e.actor }),
          h('td.nw', { text: ACTIONS[e.action] || e.action }), h('td.mono', { text: e.target }), h('td', { text: e.detail }),
          h('td.mono', { title: e.hash, text: e.hash.slice(0, 12) }));
      }));
      card.appendChild(h('div.table-wrap', h('table#audit', h('thead', h('tr', ['序号', '时间', '操作人', '操作', '对象', '详情', '哈希']
        .map(function (x) { return h('th', { text: x }); }))), body)));
      if (!window.crypto || !crypto.subtle) { out.appendChild(msg('warn', '此浏览器不能在本页校验哈希链。')); return; }
      var prev = '0'.repeat(64), bad = null;
      return entries.reduce(function (p, e, i) {
        return p.then(function () {
          if (bad) return;
          if (e.seq !== i + 1 || e.prev_hash !== prev) { bad = e.seq; return; }
          prev = e.hash;
          if (e.redacted) return;
          return entryHash(e).then(function (hh) { if (hh !== e.hash) bad = e.seq; });
        });
      }, Promise.resolve()).then(function () {
        out.appendChild(bad ? msg('error', '哈希链校验失败：第 ' + bad + ' 条记录与链不符。')
          : msg('ok', '哈希链校验通过：共 ' + entries.length + ' 条记录，本范围可见 ' + mine.length + ' 条。'));
      });
    });
  }

  /* ---- support staff: account search and rebinding ----
   * GET /api/v1/admin/accounts (every look-up audited) and POST /api/v1/admin/rebindings.
   * Support staff get 403 on every school matter, so they land on this view. */
  var ID_TYPES = [['mainland', '中华人民共和国居民身份证'], ['taiwan', '台湾居民往来大陆通行证'],
    ['hkmo_permit', '港澳居民来往内地通行证'], ['passport', '护照'], ['hongkong', '香港身份证'], ['macao', '澳门身份证']];
  var SUBJECTS = { '1': '英语四级笔试', '2': '英语六级笔试', '3': '日语四级笔试', '4': '日语六级笔试',
    '5': '德语四级笔试', '6': '德语六级笔试', '7': '俄语四级笔试', '8': '俄语六级笔试', '9': '法语四级笔试',
    F: '英语四级口试', S: '英语六级口试' };
  function idTypeName(t) {
    var m = ID_TYPES.filter(function (x) { return x[0] === t; })[0];
    return m ? m[1] : t;
  }
  function idTypeSelect(id) {
    return h('select', { id: id }, ID_TYPES.map(function (t) { return h('option', { value: t[0], text: t[1] }); }));
  }
  function supportAccount(a, onUse) {
    var b = a.binding;
    var rows = [['通行证ID', h('span.mono', { text: a.account_id.toUpperCase() })], ['电子邮箱', a.email],
      ['注册时间', shortTime(a.created_at)],
      ['绑定状态', b ? h('span.tag.tag-ok', { text: '已绑定' }) : h('span.tag.tag-warn', { text: '未绑定' })]];
    if (b) {
      rows.push(['考生姓名', b.name], ['证件', idTypeName(b.id_type) + ' ' + b.id_number], ['学校代码', b.school],
        ['绑定时间', shortTime(b.bound_at)]);
      rows.push(['报名科目', a.registrations.length ? a.registrations.map(function (r) {
        return (SUBJECTS[r.subject] || r.subject) + '（' + (STATES[r.state] || r.state) + '，校区 ' + r.campus + '）';
      }).join('；') : '无']);
    }
    var t = h('table.support-account', h('tbody', rows.map(function (r) {
      return h('tr', h('th', { text: r[0] }), h('td', r[1]));
    })));
    var use = h('button.btn.btn-plain.btn-small', { type: 'button', text: '作为换绑目标',
      onclick: function () { onUse(a); } });
    return h('div.support-result', t, b ? null : h('p', use));
  }
  function viewSupport() {
    showFrame(false);
    $('#who').hidden = false;
    var card = page('支持人员：账号查询与换绑');
    card.appendChild(h('p.muted', { text: '支持人员只处理账号事务。每次查询都会记入操作日志（查询人、查询内容）。' }));

    /* search */
    var kind = h('select', { id: 'sup-kind' }, [['email', '电子邮箱'], ['account_id', '通行证ID'], ['id', '证件号码']]
      .map(function (k) { return h('option', { value: k[0], text: k[1] }); }));
    var idType = idTypeSelect('sup-id-type');
    var q = h('input', { type: 'text', id: 'sup-q', autocomplete: 'off', placeholder: '输入电子邮箱' });
    var find = h('button.btn', { type: 'submit', id: 'sup-find', text: '查询' });
    var out = h('div', { id: 'sup-result' });
    function syncKind() {
      idType.hidden = kind.value !== 'id';
      q.placeholder = { email: '输入电子邮箱', account_id: '输入32位通行证ID', id: '输入证件号码' }[kind.value];
    }
    kind.addEventListener('change', syncKind);
    syncKind();
    var search = h('form', { id: 'sup-search' }, h('h3', { text: '查询账号' }),
      h('div.row.form-row', kind, idType, h('div.grow', q), find));
    search.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var v = q.value.trim();
      out.textContent = '';
      if (!v) { out.appendChild(msg('error', '请输入查询内容。')); return; }
      var qs = kind.value === 'email' ? 'email=' + encodeURIComponent(v)
        : kind.value === 'account_id' ? 'account_id=' + encodeURIComponent(v.toLowerCase())
        : 'id_type=' + encodeURIComponent(idType.value) + '&id_number=' + encodeURIComponent(v.toUpperCase());
      find.disabled = true;
      api('GET', '/admin/accounts?' + qs).then(function (r) {
        if (!r.accounts.length) { out.appendChild(msg('warn', '未找到账号。')); return; }
        r.accounts.forEach(function (a) {
          out.appendChild(supportAccount(a, function (acc) { to.value = acc.account_id.toUpperCase(); to.focus(); }));
        });
      }).catch(function (e) { if (e.status !== 401) out.appendChild(msg('error', errText(e))); })
        .then(function () { find.disabled = false; });
    });
    card.appendChild(search);
    card.appendChild(out);

    /* rebinding */
    var rType = idTypeSelect('rb-id-type');
    var rNum = h('input', { type: 'text', id: 'rb-id-number', autocomplete: 'off' });
    var rName = h('input', { type: 'text', id: 'rb-name', autocomplete: 'off' });
    var to = h('input', { type: 'text', id: 'rb-to', autocomplete: 'off', placeholder: '考生新账号的32位通行证ID' });
    var go2 = h('button.btn.btn-danger', { type: 'submit', id: 'rb-submit', text: '换绑' });
    var res = h('div', { id: 'rb-result' });
    var form = h('form', { id: 'rebind-form' }, h('h3', { text: '换绑：把学籍信息及其报名移到新账号' }),
      h('p.muted', { text: '考生填错邮箱且忘记密码时：请考生注册新账号并报出其通行证ID，核对证件后换绑。旧账号将不再看到报名。' }),
      h('div.form-row', h('label', { for: 'rb-id-type', text: '证件类型' }), rType),
      h('div.form-row', h('label', { for: 'rb-id-number', text: '证件号码' }), rNum),
      h('div.form-row', h('label', { for: 'rb-name', text: '姓名' }), rName),
      h('div.form-row', h('label', { for: 'rb-to', text: '目标通行证ID' }), to), go2, res);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      res.textContent = '';
      var body = { id_type: rType.value, id_number: rNum.value.trim().toUpperCase(), name: rName.value.trim(),
        to_account_id: to.value.trim().toLowerCase() };
      if (!body.id_number || !body.name || !body.to_account_id) { res.appendChild(msg('error', '请填写证件号码、姓名和目标通行证ID。')); return; }
      if (!window.confirm('确认把 ' + body.name + '（' + idTypeName(body.id_type) + ' ' + body.id_number +
        '）的绑定及报名移到通行证ID ' + body.to_account_id.toUpperCase() + '？旧账号将不再看到这些报名。')) return;
      go2.disabled = true;
      api('POST', '/admin/rebindings', body).then(function (r) {
        var subs = r.registrations.map(function (c) { return SUBJECTS[c] || c; }).join('、') || '无';
        res.appendChild(msg('ok', '换绑成功：已从 ' + r.from_account_id.toUpperCase() + ' 移到 ' +
          r.to_account_id.toUpperCase() + '，随之移动的报名：' + subs + '。已通知新账号邮箱。'));
      }).catch(function (e) { if (e.status !== 401) res.appendChild(msg('error', errText(e))); })
        .then(function () { go2.disabled = false; });
    });
    card.appendChild(form);
    return Promise.resolve();
  }

  /* ---- routing ---- */
  var VIEWS = { dashboard: viewDashboard, reviews: viewReviews, roster: viewRoster, offers: viewOffers,
    announcements: viewAnnouncements, group: viewGroup, exports: viewExports, audit: viewAudit, support: viewSupport };
  function render() {
    var view = (location.hash.replace(/^#\/?/, '') || 'dashboard').split('?')[0];
    if (!session.token() || view === 'login') { viewLogin(); return; }
    if (!VIEWS[view]) view = 'dashboard';
    showFrame(true);
    markNav(view);
    if (view === 'support') { viewSupport(); return; }
    var p = state.dash ? Promise.resolve() : loadDash();
    p.then(function () { return VIEWS[view](); }).catch(function (e) {
      if (e && e.status === 403 && !state.dash) { go('support'); return; }
      if (e && e.status === 401) return;
      var app = $('#app');
      app.insertBefore(msg('error', errText(e)), app.firstChild);
    });
  }

  $('#logout').addEventListener('click', function () {
    api('DELETE', '/admin/sessions').catch(function () {}).then(function () {
      session.set(null);
      state.dash = null;
      go('login');
    });
  });
  /* the arrangement/print page is another engineer's: linked when it is deployed */
  fetch('tickets.html', { method: 'HEAD' }).then(function (r) { $('#nav-tickets').hidden = !r.ok; }, function () {});
  window.addEventListener('hashchange', render);
  render();
})();
