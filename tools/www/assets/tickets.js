/*
 * tickets.js: the candidate's 准考证打印 page (tools/www/tickets.html), on its own:
 * it shares only the session the candidate pages keep in sessionStorage
 * ('cet.token') and app.css. Before the print date it shows the date; from
 * then on a download button per paid, arranged subject, which fetches
 * GET /api/v1/admission-tickets/{subject} with the bearer token and opens
 * the PDF. Plain ES2017, no build step.
 */
(function () {
  'use strict';

  var API = '/api/v1';
  var TOKEN_KEY = 'cet.token';
  var TEXT = {
    not_paid: '该科目尚未缴费，缴费成功后方可打印准考证。',
    not_arranged: '该科目尚未编排考场，请稍后再试。',
    print_not_open: '尚未到准考证打印时间。',
    registration_not_found: '未找到该科目的报名记录。',
    not_bound: '请先完成资格信息查询并确认报名。',
    unauthorized: '登录已失效，请重新登录。',
    overloaded: '当前打印人数较多，系统繁忙，请稍后重试。',
    storage_unavailable: '系统暂时不可用，请稍后重试。',
    network: '网络连接失败，请检查网络后重试。'
  };

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (c) { if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function when(t) {
    if (!t) return '—';
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(t);
    return m ? m[1] + '年' + (+m[2]) + '月' + (+m[3]) + '日 ' + m[4] + ':' + m[5] : t;
  }
  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
  function errText(code, status) {
    return TEXT[code] || (status >= 500 ? TEXT.overloaded : '请求失败（' + (code || status) + '）');
  }

  function get(path) {
    return fetch(API + path, { headers: { Authorization: 'Bearer ' + token() } }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (j) {
        if (!r.ok) throw { status: r.status, code: j && j.error && j.error.code };
        return j;
      });
    }, function () { throw { status: 0, code: 'network' }; });
  }

  function show(nodes) {
    var main = $('tickets');
    main.textContent = '';
    nodes.forEach(function (n) { if (n) main.appendChild(n); });
  }
  function notice(kind, text) { return el('p', { class: 'notice notice-' + kind, text: text }); }

  /* Downloads one ticket and opens it (a new tab, or a download where tabs are refused). */
  function download(subject, btn, msg) {
    btn.disabled = true;
    msg.textContent = '';
    fetch(API + '/admission-tickets/' + encodeURIComponent(subject), {
      headers: { Authorization: 'Bearer ' + token() }
    }).then(function (r) {
      if (r.ok) return r.blob();
      return r.json().catch(function () { return null; }).then(function (j) {
        throw { status: r.status, code: j && j.error && j.error.code };
      });
    }, function () { throw { status: 0, code: 'network' }; }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      var a = el('a', { href: url, download: 'CET准考证-' + subject + '.pdf' });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
      msg.appendChild(notice('ok', '准考证已下载，请用A4纸打印。'));
    }).catch(function (e) {
      msg.appendChild(notice('error', errText(e.code, e.status)));
    }).then(function () { btn.disabled = false; });
  }

  function page(me, cand) {
    var sitting = me.sitting || {};
    var printing = me.phase === 'print';
    var regs = [].concat((cand && cand.written) || [], (cand && cand.oral) || [])
      .filter(function (r) { return r.state === 'paid'; });
    var head = el('section', { class: 'card', id: 'tickets-page' }, [
      el('h2', { text: '准考证打印' }),
      el('dl', { class: 'kv' }, [
        el('dt', { text: '考次名称' }), el('dd', { text: sitting.name || '—' }),
        el('dt', { text: '打印开始时间' }), el('dd', { id: 'print-opens', text: when(sitting.print_opens) })
      ]),
      printing ? null : notice('info', '准考证打印尚未开始，请于 ' + when(sitting.print_opens) + ' 之后登录打印。')
    ]);
    var rows = regs.map(function (r) {
      var msg = el('div');
      var cell;
      if (!printing) cell = el('span', { class: 'muted', text: '未到打印时间' });
      else if (r.arrangement !== 'arranged') cell = el('span', { class: 'muted', text: '尚未编排考场' });
      else {
        cell = el('button', { class: 'btn btn-small', type: 'button', id: 'ticket-' + r.subject, text: '下载准考证' });
        cell.addEventListener('click', function () { download(r.subject, cell, msg); });
      }
      // from the print date the page has the seat (GET /api/v1/candidate: ticket)
      var t = r.ticket;
      var seat = t ? el('span', { class: 'ticket-seat', id: 'seat-' + r.subject,
        text: t.number + '，第' + t.room + '考场 ' + t.seat + '号座位，' + (t.exam_date || '').slice(0, 10) + ' ' + t.exam_time })
        : el('span', { class: 'muted', text: '—' });
      return el('tr', {}, [
        el('td', { 'data-label': '科目', text: r.name || r.subject }),
        el('td', { 'data-label': '考点', text: r.campus ? r.campus.code + ' ' + (r.campus.name || '') : '—' }),
        el('td', { 'data-label': '编排状态', text: r.arrangement === 'arranged' ? '已编排' : '未编排' }),
        el('td', { 'data-label': '准考证号与座位' }, [seat]),
        el('td', { 'data-label': '准考证' }, [cell, msg])
      ]);
    });
    var table = el('table', { class: 'data' }, [
      el('thead', {}, [el('tr', {}, ['科目', '考点', '编排状态', '准考证号与座位', '准考证'].map(function (t) { return el('th', { text: t }); }))]),
      el('tbody', {}, rows.length ? rows : [el('tr', {}, [el('td', { colspan: '5', text: '没有已缴费的报考科目。' })])])
    ]);
    show([head, el('section', { class: 'card' }, [el('h2', { text: '已缴费科目' }), table,
      el('p', { class: 'muted', text: '准考证为A4纸PDF文件，请打印后与有效身份证件原件一同携带参加考试。' }),
      el('div', { class: 'actions' }, [el('a', { class: 'btn btn-secondary', href: 'index.html#/registration', text: '返回报名信息' })])])]);
  }

  function start() {
    if (!token()) {
      show([el('section', { class: 'card narrow' }, [el('h2', { text: '准考证打印' }),
        notice('info', '请先登录。'),
        el('div', { class: 'actions' }, [el('a', { class: 'btn', href: 'index.html#/login', text: '去登录' })])])]);
      return;
    }
    get('/me').then(function (me) {
      return (me.bound ? get('/candidate') : Promise.resolve(null)).then(function (c) { page(me, c); });
    }).catch(function (e) {
      show([el('section', { class: 'card' }, [el('h2', { text: '准考证打印' }), notice('error', errText(e.code, e.status)),
        el('div', { class: 'actions' }, [el('a', { class: 'btn btn-secondary', href: 'index.html#/home', text: '返回首页' })])])]);
    });
  }

  start();
})();
