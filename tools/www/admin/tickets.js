/*
 * admin/tickets.js: the staff's minimal arrange / rooms / print-all page
 * (tools/www/admin/tickets.html), standalone: staff login (POST
 * /api/v1/admin/sessions, no captcha), then for one campus-subject
 * GET|PUT /api/v1/admin/campuses/{campus}/rooms, POST /api/v1/admin/arrangements
 * and GET /api/v1/admin/admission-tickets (one PDF). The token lives in
 * sessionStorage ('cet.staffToken'), apart from the candidate's.
 */
(function () {
  'use strict';

  var API = '/api/v1';
  var KEY = 'cet.staffToken', USER_KEY = 'cet.staffUser';
  var TEXT = {
    invalid_credentials: '用户名或密码错误。',
    unauthorized: '登录已失效，请重新登录。',
    forbidden: '该校区不在您的管理范围内。',
    offer_not_found: '该校区未开考此科目（或校区代码不存在）。',
    window_open: '该科目报名尚未截止，截止后才能编排考场。',
    not_enough_seats: '考场座位不足，请增加考场或座位后重新编排。',
    not_arranged: '该科目尚未编排考场（或该考场没有考生）。',
    invalid_field: '填写的内容无效：考场号为1至999，座位数为1至99，考场号不能重复。',
    bad_query: '查询条件无效（人数超过20000时请按考场打印）。',
    rate_limited: '尝试次数过多，请一分钟后再试。',
    overloaded: '系统繁忙，请稍后重试。',
    network: '网络连接失败，请检查网络后重试。'
  };

  function $(id) { return document.getElementById(id); }
  function notice(kind, text) {
    var p = document.createElement('p');
    p.className = 'notice notice-' + kind;
    p.textContent = text;
    return p;
  }
  function say(box, kind, text) { box.textContent = ''; box.appendChild(notice(kind, text)); }
  function token() { return sessionStorage.getItem(KEY) || ''; }
  function uuid() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (v) { return (v + 0x100).toString(16).slice(1); }).join('');
  }
  function fail(e) {
    if (e.status === 401 && e.code === 'unauthorized') { sessionStorage.removeItem(KEY); show(); }
    return TEXT[e.code] || ('请求失败（' + (e.code || e.status) + '）');
  }

  /* JSON call; PDFs come back as a Blob. */
  function call(method, path, body, idem) {
    var h = { Authorization: 'Bearer ' + token() };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (idem) h['Idempotency-Key'] = uuid();
    return fetch(API + path, { method: method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        var pdf = (r.headers.get('Content-Type') || '').indexOf('application/pdf') === 0;
        if (r.ok && pdf) return r.blob();
        return r.json().catch(function () { return null; }).then(function (j) {
          if (!r.ok) throw { status: r.status, code: j && j.error && j.error.code };
          return j;
        });
      }, function () { throw { status: 0, code: 'network' }; });
  }

  function campusSubject(box) {
    var campus = $('campus').value.trim();
    if (!/^\d{6}$/.test(campus)) { say(box, 'error', '请填写6位校区代码。'); return null; }
    return { campus: campus, subject: $('subject').value };
  }

  function show() {
    var in_ = !!token();
    $('login-card').hidden = in_;
    $('work').hidden = !in_;
    $('userbar').hidden = !in_;
    $('staff-user').textContent = sessionStorage.getItem(USER_KEY) || '';
  }

  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var box = $('login-msg');
    var user = $('user').value.trim(), pw = $('password').value;
    if (!user || !pw) { say(box, 'error', '请填写用户名和密码。'); return; }
    $('login').disabled = true;
    fetch(API + '/admin/sessions', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: user, password: pw })
    }).then(function (r) {
      return r.json().then(function (j) {
        if (r.status !== 201) throw { status: r.status, code: j && j.error && j.error.code };
        sessionStorage.setItem(KEY, j.token);
        sessionStorage.setItem(USER_KEY, user);
        box.textContent = '';
        show();
      });
    }).catch(function (e) { say(box, 'error', TEXT[e.code] || '登录失败。'); })
      .then(function () { $('login').disabled = false; });
  });

  $('logout').addEventListener('click', function () {
    call('DELETE', '/admin/sessions').catch(function () {}).then(function () {
      sessionStorage.removeItem(KEY);
      show();
    });
  });

  $('rooms-load').addEventListener('click', function () {
    var box = $('msg'), cs = campusSubject(box);
    if (!cs) return;
    call('GET', '/admin/campuses/' + cs.campus + '/rooms').then(function (j) {
      $('rooms').value = j.rooms.map(function (r) { return r.room + ',' + r.seats; }).join('\n');
      $('rooms-summary').textContent = j.default
        ? '未设置考场：按默认的999个考场、每场' + j.default_seats + '座编排。'
        : '共 ' + j.rooms.length + ' 个考场，' + j.seats + ' 个座位。';
      box.textContent = '';
    }).catch(function (e) { say(box, 'error', fail(e)); });
  });

  $('rooms-save').addEventListener('click', function () {
    var box = $('msg'), cs = campusSubject(box);
    if (!cs) return;
    var rooms = [], bad = '';
    $('rooms').value.split(/\r?\n/).forEach(function (line, i) {
      line = line.trim();
      if (!line) return;
      var m = /^(\d{1,3})\s*(?:[,，\s]\s*(\d{1,2}))?$/.exec(line);
      if (!m) { bad = bad || '第' + (i + 1) + '行格式不正确：' + line; return; }
      var r = { room: parseInt(m[1], 10) };
      if (m[2]) r.seats = parseInt(m[2], 10);
      rooms.push(r);
    });
    if (bad) { say(box, 'error', bad); return; }
    call('PUT', '/admin/campuses/' + cs.campus + '/rooms', { rooms: rooms }, true).then(function (j) {
      say(box, 'ok', '考场已保存：' + j.rooms + ' 个考场，' + j.seats + ' 个座位。');
    }).catch(function (e) { say(box, 'error', fail(e)); });
  });

  $('arrange').addEventListener('click', function () {
    var box = $('arrange-result'), cs = campusSubject(box);
    if (!cs) return;
    $('arrange').disabled = true;
    call('POST', '/admin/arrangements', cs, true).then(function (j) {
      say(box, 'ok', '编排完成：' + j.seats + ' 名考生，使用 ' + j.rooms + ' 个考场' +
        (j.slots ? '，' + j.slots + ' 个时段' : '') + '。');
    }).catch(function (e) { say(box, 'error', fail(e)); })
      .then(function () { $('arrange').disabled = false; });
  });

  $('print-all').addEventListener('click', function () {
    var box = $('arrange-result'), cs = campusSubject(box);
    if (!cs) return;
    var room = $('room').value.trim();
    if (room && !/^\d{1,3}$/.test(room)) { say(box, 'error', '考场号为1至999。'); return; }
    $('print-all').disabled = true;
    say(box, 'info', '正在生成PDF，人数较多时需要一些时间……');
    call('GET', '/admin/admission-tickets?campus=' + cs.campus + '&subject=' + encodeURIComponent(cs.subject) +
      (room ? '&room=' + room : '')).then(function (blob) {
      var url = URL.createObjectURL(blob);
      var a = document.createElement('a');
      a.href = url;
      a.download = 'CET准考证-' + cs.campus + '-' + cs.subject + (room ? '-' + room : '') + '.pdf';
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
      say(box, 'ok', '准考证PDF已下载。');
    }).catch(function (e) { say(box, 'error', fail(e)); })
      .then(function () { $('print-all').disabled = false; });
  });

  show();
})();
