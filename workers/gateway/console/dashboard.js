/* The supervisors' dashboard: the live figures (/api/v1/stats), the red and
 * yellow lights (/api/v1/deadlines) and the hot spots (/api/v1/hotspots),
 * refreshed every minute. Plain JavaScript, no libraries, no inline code
 * (the page's Content-Security-Policy allows only these files); everything
 * from the server goes in with textContent or as SVG attributes. The token
 * is the console's (sessionStorage), so one login serves both pages. */
'use strict';

const API = '/api/v1';
/* Refreshed every minute; dashboard.html?refresh=N: every N seconds (at least 2). */
const REFRESH_MS = Math.max(2, Number(new URLSearchParams(location.search).get('refresh')) || 60) * 1000;
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

const ROLES = { office: '派单/审核', supervisor: '督办', admin: '管理员', unit: '承办单位' };
const CLOCKS = { sign: '签收', contact: '先行联系', reply: '答复', callback: '回访' };
const STATUS_TEXT = { 400: '输入有误', 401: '令牌无效或已失效，请重新登录', 403: '无权查看', 429: '操作过于频繁，请稍后再试',
  503: '服务繁忙，请稍后重试' };
const CARDS = [['accepted', '受理', 'n'], ['finished', '办结', 'n'], ['completion_rate', '办结率', 'r'],
  ['on_time_rate', '按时办结率', 'r'], ['response_rate', '响应率', 'r'], ['satisfaction_rate', '满意率', 'r'],
  ['direct_resolution_rate', '直接办结率', 'r'], ['red', '红灯（已超期）', 'l'], ['yellow', '黄灯（已预警）', 'l']];

const S = { token: sessionStorage.getItem('hotline.token') || '', me: null, seq: 0, busy: 0, timer: 0 };

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
function rate(v) { return v === null || v === undefined ? '—' : (v * 100).toFixed(2) + '%'; }
function time(s) { return s ? s.slice(5, 16).replace('T', ' ') : '—'; }
function span(min) { return min >= 1440 ? Math.floor(min / 1440) + ' 天' : min >= 60 ? Math.floor(min / 60) + ' 小时' : min + ' 分钟'; }

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
async function api(path) {
  let res;
  try { res = await fetch(API + path, { headers: { Authorization: 'Bearer ' + S.token } }); } catch (e) { throw new ApiError(0, '无法连接服务器'); }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) {
    if (res.status === 401 && path !== '/me') logout();
    throw new ApiError(res.status, data && data.message);
  }
  return data;
}
function say(msg) { $('alert').className = 'error'; $('alert').textContent = msg; $('alert').hidden = false; }
function fail(e, what) {
  say(what + '失败：' + (STATUS_TEXT[e.status] || (e.status ? '请求失败（' + e.status + '）' : e.message)) +
    (e.status && e.message ? '（' + e.message + '）' : ''));
}

/* ------------------------------------------------------------ login */

async function login(token) {
  S.token = token;
  try { S.me = await api('/me'); } catch (e) { S.token = ''; fail(e, '登录'); return; }
  if (S.me.role === 'agent') { S.token = ''; S.me = null; say('话务员令牌不能查看监测数据'); return; }
  sessionStorage.setItem('hotline.token', token);
  try {
    const ref = await api('/reference');
    for (const u of ref.units) $('b-unit').append(el('option', { value: u.code }, u.name));
  } catch (e) { fail(e, '读取基础数据'); }
  if (S.me.role === 'unit') { $('b-unit').value = S.me.unit; $('b-unit').disabled = true; }
  $('login').hidden = true;
  $('board').hidden = false;
  $('b-form').hidden = false;
  $('logout').hidden = false;
  $('alert').hidden = true;
  await refresh();
  /* The timer never overtakes a refresh still under way (a slow answer would
   * otherwise be superseded by the next, again and again); a change of
   * filter does, and the older answer is dropped. */
  S.timer = setInterval(() => { if (!document.hidden && !S.busy) refresh(); }, REFRESH_MS);
}

function logout() {
  sessionStorage.removeItem('hotline.token');
  S.token = '';
  S.me = null;
  clearInterval(S.timer);
  $('board').hidden = true;
  $('b-form').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('token').value = '';
  $('token').focus();
}

/* ------------------------------------------------------------ the board */

/* The period's first day, counted from the hotline's own today (the
 * server's local date, which the browser's time zone need not share). */
function period(today) {
  const v = $('b-days').value;
  if (v === 'month') return today.slice(0, 8) + '01';
  const d = new Date(Date.parse(today + 'T00:00:00Z') - (Number(v) - 1) * 86400000);
  return d.toISOString().slice(0, 10);
}

async function refresh() {
  const seq = ++S.seq;
  S.busy++;
  const unit = $('b-unit').value;
  const u = new URLSearchParams();
  if (unit) u.set('unit', unit);
  u.set('limit', '50');
  try {
    const lights = await api('/deadlines?' + u);
    S.from = period(lights.now.slice(0, 10));
    const q = new URLSearchParams({ from: S.from });
    if (unit) q.set('unit', unit);
    const [stats, hot] = await Promise.all([api('/stats?' + q), api('/hotspots?' + u)]);
    if (seq !== S.seq) return;
    cards(stats.totals, lights);
    trend(stats.by_day);
    units(stats.by_unit);
    redYellow(lights);
    hotspots(hot);
    $('b-updated').textContent = time(stats.from) + ' 至 ' + time(stats.to) + ' · ' + lights.now.slice(11, 19) + ' 更新';
    $('board').dataset.loaded = String(seq);
    $('alert').hidden = true;
  } catch (e) {
    if (seq === S.seq) fail(e, '刷新');
  } finally {
    S.busy--;
  }
}

function cards(t, lights) {
  $('b-cards').replaceChildren(...CARDS.map(([k, label, kind]) => {
    const v = kind === 'l' ? lights[k] : t[k];
    return el('div', { class: 'card' + (kind === 'l' ? ' ' + k : ''), 'data-k': k, 'data-v': v === null ? '' : String(v) },
      el('div', { class: 'v' }, kind === 'r' ? rate(v) : v), el('div', { class: 'k' }, label));
  }));
}

/* Bars of accepted and finished per day, the completion rate as a line. */
function trend(days) {
  const box = $('b-trend'), W = 600, H = 200, pad = 4;
  const max = Math.max(1, ...days.map((d) => Math.max(d.accepted, d.finished)));
  const step = W / Math.max(1, days.length), bw = Math.max(1, step / 2 - 1);
  const kids = [0.25, 0.5, 0.75].map((f) => svg('line', { class: 'grid', x1: 0, x2: W, y1: H * f, y2: H * f }));
  const points = [];
  days.forEach((d, i) => {
    const g = svg('g', { class: 'day', 'data-day': d.day, 'data-accepted': d.accepted, 'data-finished': d.finished,
      'data-rate': d.completion_rate === null ? '' : d.completion_rate });
    const ha = (H - pad) * d.accepted / max, hf = (H - pad) * d.finished / max;
    const x = i * step + (step - 2 * bw) / 2;
    g.append(svg('rect', { class: 'acc', x, y: H - ha, width: bw, height: ha }));
    g.append(svg('rect', { class: 'fin', x: x + bw, y: H - hf, width: bw, height: hf }));
    const title = svg('title');
    title.textContent = d.day + '：受理 ' + d.accepted + '，办结 ' + d.finished + '，办结率 ' + rate(d.completion_rate);
    g.append(title);
    kids.push(g);
    if (d.completion_rate !== null) points.push((i * step + step / 2).toFixed(1) + ',' + (H - pad - (H - 2 * pad) * d.completion_rate).toFixed(1));
  });
  if (points.length) kids.push(svg('polyline', { class: 'rate', points: points.join(' ') }));
  box.replaceChildren(...kids);
  const ticks = days.length ? [days[0].day, days[Math.floor(days.length / 2)].day, days[days.length - 1].day] : [];
  $('b-trend-axis').replaceChildren(...ticks.map((d) => el('span', {}, d.slice(5))));
}

function units(list) {
  const key = $('b-sort').value, low = key === 'overdue_rate';
  const rows = list.filter((u) => u.unit).sort((a, b) => {
    const x = a[key] ?? (low ? Infinity : -1), y = b[key] ?? (low ? Infinity : -1);
    return (low ? x - y : y - x) || b.dispatched - a.dispatched || (a.unit < b.unit ? -1 : 1);
  });
  $('b-units').tBodies[0].replaceChildren(...rows.map((u, i) => el('tr', { 'data-unit': u.unit },
    el('td', {}, i + 1), el('td', {}, u.unit_name || u.unit), el('td', {}, u.dispatched), el('td', {}, u.finished),
    el('td', { 'data-k': 'completion_rate' }, rate(u.completion_rate)), el('td', { 'data-k': 'on_time_rate' }, rate(u.on_time_rate)),
    el('td', { 'data-k': 'satisfaction_rate' }, rate(u.satisfaction_rate)), el('td', {}, u.overdue))));
}

function redYellow(d) {
  $('b-red').textContent = '红灯 ' + d.red;
  $('b-yellow').textContent = '黄灯 ' + d.yellow;
  $('b-lights').tBodies[0].replaceChildren(...d.tickets.map((t) => el('tr', { 'data-ticket': t.ticket, 'data-light': t.light },
    el('td', {}, el('span', { class: 'dot ' + t.light, title: t.light === 'red' ? '红灯：已超期' : '黄灯：已预警' })),
    el('td', {}, el('a', { href: './#' + t.ticket }, t.ticket)), el('td', {}, t.unit_name || t.unit || '（待派单）'),
    el('td', {}, CLOCKS[t.clock] || t.clock), el('td', {}, time(t.due)),
    el('td', {}, (t.light === 'red' ? '超期 ' : '剩余 ') + span(t.minutes)), el('td', { class: 'title' }, t.title))));
}

function hotspots(h) {
  $('b-window').textContent = Math.round((Date.parse(h.to) - Date.parse(h.from)) / 3600000);
  $('b-hot-at').textContent = h.to.slice(11, 19) + ' 计算'; // answers are kept a while (hotspots.cache_s)
  const none = (text) => el('li', { class: 'none' }, text);
  $('b-spikes').replaceChildren(...(h.spikes.length ? h.spikes.map((s) => el('li', { 'data-count': s.count },
    (s.category_name || s.category) + ' · ' + (s.region_name || '未注明区域') + '：' + s.count + ' 件（常态 ' + s.usual + '）',
    s.examples.length ? el('div', { class: 'ex' }, '例：' + s.examples.map((x) => x.title || x.ticket).join('；')) : null))
    : [none('暂无突增')]));
  $('b-clusters').replaceChildren(...(h.clusters.length ? h.clusters.map((c) => el('li', { 'data-size': c.size },
    c.size + ' 件 · ' + (c.category_name || c.category) + ' · ' + (c.region_name || '未注明区域') + (c.unit_name ? ' · ' + c.unit_name : ''),
    el('div', { class: 'ex' }, '例：' + c.examples.map((x) => x.title || x.ticket).join('；'))))
    : [none('暂无聚集')]));
}

/* ------------------------------------------------------------ wiring */

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const tok = $('token').value.trim();
  if (!tok) { say('请输入访问令牌'); return; }
  login(tok);
});
$('logout').addEventListener('click', logout);
for (const id of ['b-days', 'b-unit']) $(id).addEventListener('change', refresh);
$('b-sort').addEventListener('change', refresh);
if (S.token) login(S.token); else $('token').focus();
