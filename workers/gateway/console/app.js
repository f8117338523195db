/* The agents' console: plain JavaScript over the gateway's JSON API
 * (/api/v1). No build step, no libraries, no inline code (the page's
 * Content-Security-Policy allows only these files). Everything shown from
 * the server goes in with textContent: nothing is parsed as HTML. */
'use strict';

const API = '/api/v1';
const $ = (id) => document.getElementById(id);

const STATES = {
  DRAFT: '草稿', ACCEPTED: '已受理', CLOSED_DIRECT: '直接办结', NOT_ACCEPTED: '不予受理',
  TRANSFERRED_OUT: '已转应急', MERGED: '已并单', PENDING_DISPATCH: '待派单', DISPATCHED: '已派单',
  RETURN_REQUESTED: '退单审核中', SIGNED: '已签收', IN_PROGRESS: '办理中',
  EXTENSION_REQUESTED: '延期审核中', REPLIED: '已答复', CALLBACK: '待回访', CLOSED: '已办结',
  ARCHIVED: '已归档', WITHDRAWN: '已撤单',
};
const TYPES = { consultation: '咨询', help: '求助', complaint: '投诉', report: '举报', suggestion: '建议', praise: '表扬', other: '其他' };
const URGENCIES = { normal: '一般', urgent: '紧急', critical: '特急' };
const CHANNELS = { phone: '电话', web: '网站', app: 'App', wechat: '微信', sms: '短信', mail: '信件', open311: 'Open311', transfer: '转办' };
const ROLES = { agent: '话务员', office: '派单/审核', supervisor: '督办', admin: '管理员', unit: '承办单位' };
const STATUS_TEXT = {
  400: '输入有误', 401: '令牌无效或已失效，请重新登录', 403: '无权执行此操作', 404: '未找到',
  405: '不支持的操作', 409: '工单状态已变化', 413: '内容超出长度限制', 415: '请求格式不受支持',
  429: '操作过于频繁，请稍后再试', 503: '服务繁忙，请稍后重试',
};

/* The lifecycle's actions: label and the fields each needs (the router
 * checks them; these are for the form). */
const area = (k, label, required) => ({ k, label, kind: 'area', required });
const text = (k, label, required) => ({ k, label, kind: 'text', required });
const num = (k, label, required) => ({ k, label, kind: 'number', required });
const pick = (k, label, options) => ({ k, label, kind: 'select', options });
const unitPick = (k, label) => ({ k, label, kind: 'unit' });
const ACTIONS = {
  dispatch: ['派单', [unitPick('unit', '承办单位（不选：按目录）'), text('assisting', '协办单位代码（逗号分隔，可空）')]],
  sign: ['签收', []],
  return: ['退单', [pick('reason_code', '退单原因', [['属地不符', '属地不符'], ['职能不符', '职能不符'], ['其他', '其他']]), area('reason', '说明', true)]],
  approve_return: ['同意退单', [unitPick('unit', '改派单位（不选：稍后派单）')]],
  reject_return: ['驳回退单', [area('reason', '驳回理由', true)]],
  extend: ['申请延期', [num('days', '延期天数（工作日）', true), area('reason', '理由', true)]],
  approve_extension: ['同意延期', []],
  reject_extension: ['驳回延期', [area('reason', '驳回理由', true)]],
  contact: ['先行联系', [pick('method', '联系方式', [['phone', '电话'], ['sms', '短信'], ['visit', '上门']]), area('note', '联系记录')]],
  reply: ['答复', [pick('reason_code', '办理结果', [['resolved', '已解决'], ['explained', '已解释说明'], ['partly', '部分解决'], ['unresolved', '无法解决']]), area('text', '答复内容', true)]],
  review_accept: ['审核通过', []],
  review_reject: ['审核退回', [area('reason', '退回理由', true)]],
  callback: ['回访', [pick('outcome', '回访结果', [['rated', '已评价'], ['unreachable', '未联系上'], ['declined', '拒绝回访']]),
    pick('resolution', '解决情况（已评价时）', [['resolved', '已解决'], ['partly', '部分解决'], ['unresolved', '未解决']]),
    pick('satisfaction', '满意度（已评价时）', [['satisfied', '满意'], ['basically', '基本满意'], ['dissatisfied', '不满意']])]],
  close: ['办结', []],
  reopen: ['重办', [area('reason', '理由', true)]],
  withdraw: ['撤单', [area('reason', '撤单原因', true)]],
  merge: ['并单', [text('parent', '并入的工单号', true)]],
  transfer_emergency: ['转应急', [pick('service', '转往', [['110', '110 公安'], ['119', '119 消防'], ['120', '120 急救'], ['122', '122 交通事故']]), area('note', '说明')]],
  not_accepted: ['不予受理', [pick('reason_code', '原因', [['jurisdiction', '非本市管辖'], ['litigation', '涉诉'], ['arbitration', '仲裁'],
    ['discipline', '纪检监察'], ['reconsideration', '行政复议'], ['disclosure', '政府信息公开申请'], ['petition', '信访事项'],
    ['secret', '涉密'], ['privacy', '个人隐私'], ['public_order', '违反公序良俗'], ['malicious', '恶意骚扰']]), area('reason', '告知内容', true)]],
  close_direct: ['直接办结', [area('reason', '答复内容', true)]],
  archive: ['归档', []],
};
const EVENTS = { intake: '受理', notify: '时限提醒' };
const KEYS = { text: '答复', outcome: '回访结果', resolution: '解决情况', satisfaction: '满意度', method: '联系方式', note: '记录',
  days: '延期天数', unit: '单位', assisting: '协办', service: '转往', parent: '并入', notice: '提醒', clock: '时限', due: '到期', level: '级别' };
const VALUES = { resolved: '已解决', partly: '部分解决', unresolved: '未解决', explained: '已解释说明', satisfied: '满意',
  basically: '基本满意', dissatisfied: '不满意', rated: '已评价', unreachable: '未联系上', declined: '拒绝回访', phone: '电话',
  sms: '短信', visit: '上门', warning: '黄牌预警', reminder: '催办', overdue: '超期', supervision: '督办', sign: '签收',
  contact: '先行联系', reply: '答复', callback: '回访' };
const word = (v) => VALUES[v] || v;
const TABS = ['intake', 'queue', 'lookup', 'kb', 'stats'];
const KB_STATUS = { draft: '草稿', published: '已发布', retired: '已停用' };
const KB_CHANGE = { create: '新建', update: '修改', publish: '发布', retire: '停用', import: '导入' };
const KB_FLAGS = { failing_repeats: '重复来电多', failing_ratings: '满意度低', past_review: '已过复核日期' };

const S = { token: sessionStorage.getItem('hotline.token') || '', me: null, kbPick: null, kbEntry: null, kbEdit: null, ref: null, tab: '', ticket: null, action: '', formKey: '', previewSeq: 0, queueTimer: 0 };

/* ------------------------------------------------------------ helpers */

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

function time(s) { return s ? s.slice(0, 16).replace('T', ' ') : '—'; }
function newKey() { return 'console-' + (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()); }

class ApiError extends Error {
  constructor(status, code, message, body) { super(message); this.status = status; this.code = code; this.body = body; }
}

async function api(method, path, body, headers) {
  const h = Object.assign({ Authorization: 'Bearer ' + S.token }, headers || {});
  const init = { method, headers: h };
  if (body !== undefined) { h['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
  let res;
  try { res = await fetch(API + path, init); } catch (e) { throw new ApiError(0, 'network', '无法连接服务器'); }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) {
    if (res.status === 401 && path !== '/me') logout();
    throw new ApiError(res.status, data && data.error, data && data.message, data);
  }
  return data;
}

function say(kind, msg) {
  const a = $('alert');
  a.className = kind;
  a.textContent = msg;
  a.hidden = false;
  clearTimeout(say.timer);
  if (kind === 'info') say.timer = setTimeout(() => { a.hidden = true; }, 6000);
}
function fail(e, what) {
  const head = (what ? what + '失败：' : '') + (STATUS_TEXT[e.status] || (e.status ? '请求失败（' + e.status + '）' : e.message));
  const detail = e.status && e.message ? '（' + e.message + '）' : '';
  const allowed = e.body && e.body.allowed ? ' 当前可执行：' + e.body.allowed.map((a) => (ACTIONS[a] ? ACTIONS[a][0] : a)).join('、') : '';
  say('error', head + detail + allowed);
}
function clearAlert() { $('alert').hidden = true; }

function unitName(code) {
  if (!code) return '（待派单）';
  const u = S.ref && S.ref.units.find((x) => x.code === code);
  return u ? u.name : code;
}
function fill(select, items, keep) {
  while (select.options.length > keep) select.remove(keep);
  for (const [v, t] of items) select.append(el('option', { value: v }, t));
}

/* ------------------------------------------------------------ login */

async function login(token) {
  S.token = token;
  try {
    S.me = await api('GET', '/me');
  } catch (e) {
    S.token = '';
    fail(e, '登录');
    return;
  }
  sessionStorage.setItem('hotline.token', token);
  try { S.ref = await api('GET', '/reference'); } catch (e) { S.ref = { categories: [], units: [], regions: [] }; fail(e, '读取基础数据'); }
  fill($('f-region'), S.ref.regions.map((r) => [r.code, (r.parent ? '　' : '') + r.name]), 1);
  fill($('q-unit'), S.ref.units.map((u) => [u.code, u.name]), 1);
  fill($('q-category'), S.ref.categories.map((c) => [c.code, (c.parent ? '　' : '') + c.name]), 1);
  fill($('kn-category'), S.ref.categories.map((c) => [c.code, (c.parent ? '　' : '') + c.name]), 1);
  const role = S.me.role;
  $('k-new-open').hidden = !['office', 'admin', 'unit'].includes(role);
  $('k-eff').hidden = $('k-gaps').hidden = !['office', 'supervisor', 'admin', 'unit'].includes(role);
  $('tab-stats').hidden = role === 'agent';
  $('who').textContent = (S.me.name || '') + '（' + (ROLES[S.me.role] || S.me.role) + (S.me.unit_name ? '：' + S.me.unit_name : '') + '）';
  $('login').hidden = true;
  $('tabs').hidden = false;
  $('logout').hidden = false;
  const staff = S.me.role !== 'unit';
  $('tab-intake').hidden = !staff;
  if (S.me.role === 'unit') { $('q-unit').value = S.me.unit; $('q-unit').disabled = true; }
  clearAlert();
  resetIntake();
  show(S.me.role === 'agent' ? 'intake' : 'queue');
  /* console/#TICKET (the dashboard's links) opens that ticket. */
  if (/^#[0-9]{6,32}$/.test(location.hash)) openTicket(location.hash.slice(1));
}

function logout() {
  sessionStorage.removeItem('hotline.token');
  S.token = '';
  S.me = null;
  clearInterval(S.queueTimer);
  for (const id of TABS) $(id).hidden = true;
  $('tabs').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login').hidden = false;
  $('token').value = '';
  $('token').focus();
}

function show(tab) {
  if (tab === 'intake' && S.me && S.me.role === 'unit') tab = 'queue';
  if (tab === 'stats' && S.me && S.me.role === 'agent') return;
  S.tab = tab;
  for (const id of TABS) {
    $(id).hidden = id !== tab;
    $('tab-' + id).classList.toggle('active', id === tab);
  }
  clearInterval(S.queueTimer);
  if (tab === 'intake') $('f-name').focus();
  if (tab === 'queue') {
    loadQueue();
    S.queueTimer = setInterval(() => { if (!document.hidden) loadQueue(); }, 20000);
  }
  if (tab === 'lookup' && !S.ticket) $('l-ticket').focus();
  if (tab === 'kb') $('k-q').focus();
  if (tab === 'stats') {
    loadStats();
    S.queueTimer = setInterval(() => { if (!document.hidden) loadStats(); }, 60000);
  }
}

/* ------------------------------------------------------------ intake */

function intakeBody() {
  const v = (id) => $(id).value.trim();
  const b = { channel: $('f-channel').value, body: v('f-body'), urgency: $('f-urgency').value };
  if (v('f-title')) b.title = v('f-title');
  if ($('f-type').value) b.type = $('f-type').value;
  const rq = { name: v('f-name'), phone: v('f-phone'), anonymous: $('f-anonymous').checked, confidential: $('f-confidential').checked };
  if (rq.name || rq.phone || rq.anonymous || rq.confidential) b.requester = rq;
  if ($('f-region').value || v('f-address')) b.location = { region: $('f-region').value, address: v('f-address') };
  return b;
}

/* A new call: the form's reset event does the rest (afterReset). */
function resetIntake() { $('intake-form').reset(); }

function afterReset() {
  $('direct').hidden = true;
  dropKb();
  fillKb([]);
  S.formKey = newKey();
  $('preview-body').hidden = true;
  $('preview-hint').hidden = false;
  fillSimilar([]);
}

function fillSimilar(list) {
  const ul = $('similar');
  ul.replaceChildren();
  if (!list.length) { ul.append(el('li', { class: 'hint' }, '暂无')); return; }
  for (const s of list) {
    ul.append(el('li', {},
      el('a', { href: '#', onclick: (ev) => { ev.preventDefault(); openTicket(s.ticket); } }, s.ticket), ' ',
      el('span', { class: 'state' }, STATES[s.state] || s.state), ' ',
      Math.round(s.similarity * 100) + '% ', s.title || '', ' — ', s.unit_name || unitName(s.unit)));
  }
}

/* Knowledge-base answers for the call; adopting one puts its answer in the
 * direct-closure box and cites the entry (and its version) when closing. */
function fillKb(list) {
  const ul = $('kb-suggest');
  ul.replaceChildren();
  if (!list.length) { ul.append(el('li', { class: 'hint' }, '暂无')); return; }
  for (const k of list) {
    ul.append(el('li', {},
      el('strong', {}, k.title), ' ', el('span', { class: 'hint' }, '匹配 ' + Math.min(100, Math.round(k.score * 100)) + '%'), ' ',
      el('button', { type: 'button', 'data-kb': k.id, onclick: () => adoptKb(k) }, '采用'),
      el('div', { class: 'answer' }, (k.answer || '').slice(0, 80) + ((k.answer || '').length > 80 ? '…' : ''))));
  }
}

function adoptKb(k) {
  S.kbPick = { id: k.id, version: k.version };
  $('direct').hidden = false;
  $('direct-answer').value = k.answer || '';
  $('direct-kb-title').textContent = k.title + '（第 ' + k.version + ' 版）';
  $('direct-kb').hidden = false;
  $('direct-answer').focus();
}

function dropKb() {
  S.kbPick = null;
  $('direct-kb').hidden = true;
}

function preview() {
  clearTimeout(preview.timer);
  preview.timer = setTimeout(async () => {
    const b = intakeBody();
    if ([...b.body].length < 4) return;
    const seq = ++S.previewSeq;
    try {
      const p = await api('POST', '/tickets/preview', b);
      if (seq !== S.previewSeq) return; /* a newer one is on its way */
      $('preview-hint').hidden = true;
      $('preview-body').hidden = false;
      $('p-category').textContent = (p.category_name || p.category || '未能判断') + (p.category ? '（置信度 ' + Math.round(p.confidence * 100) + '%）' : '');
      $('p-unit').textContent = p.unit ? p.unit_name || unitName(p.unit) : '待人工派单';
      $('p-type').textContent = (TYPES[p.type] || p.type) + ' / ' + (URGENCIES[p.urgency] || p.urgency);
      $('p-sign').textContent = time(p.deadlines.sign);
      $('p-reply').textContent = time(p.deadlines.reply);
      fillSimilar(p.similar || []);
      fillKb(p.kb || []);
    } catch (e) {
      if (seq !== S.previewSeq) return;
      $('preview-hint').hidden = false;
      $('preview-hint').textContent = '暂无法预判：' + (STATUS_TEXT[e.status] || e.message);
    }
  }, 350);
}

function busy(ids, on) { for (const id of ids) $(id).disabled = on; }

function showResult(t, direct) {
  const r = $('result');
  r.replaceChildren(...[
    el('div', {}, direct ? '已直接办结，工单号 ' : '已受理，工单号 ',
      el('strong', { id: 'result-ticket' }, t.ticket)),
    el('div', {}, '分类：' + (t.category_name || t.category || '—') + '；承办单位：' + (direct ? '—' : unitName(t.unit))),
    direct ? null : el('div', {}, '答复时限：' + time(t.deadlines && t.deadlines.reply)),
    el('a', { href: '#', onclick: (ev) => { ev.preventDefault(); openTicket(t.ticket); } }, '查看工单')].filter(Boolean));
  r.hidden = false;
}

async function submitIntake() {
  const b = intakeBody();
  if (!b.body) { say('error', '请填写诉求内容'); $('f-body').focus(); return; }
  busy(['submit', 'direct-open'], true);
  try {
    const t = await api('POST', '/tickets', b, { 'Idempotency-Key': S.formKey });
    showResult(t, false);
    say('info', '工单 ' + t.ticket + ' 已受理' + (t.unit ? '，派往' + unitName(t.unit) : '，待人工派单'));
    resetIntake();
    $('f-name').focus();
  } catch (e) {
    fail(e, '提交');
  } finally {
    busy(['submit', 'direct-open'], false);
  }
}

async function submitDirect() {
  const b = intakeBody(), answer = $('direct-answer').value.trim();
  if (!b.body) { say('error', '请填写诉求内容'); $('f-body').focus(); return; }
  if (!answer) { say('error', '请填写答复内容'); $('direct-answer').focus(); return; }
  b.hold = true;
  busy(['direct-submit', 'submit'], true);
  let t = null;
  try {
    t = await api('POST', '/tickets', b, { 'Idempotency-Key': S.formKey + ':held' });
    const close = { action: 'close_direct', reason: answer, expected_version: t.version };
    if (S.kbPick) { close.kb_entry = String(S.kbPick.id); close.kb_version = String(S.kbPick.version); }
    await api('POST', '/tickets/' + t.ticket + '/actions', close, { 'Idempotency-Key': S.formKey + ':close' });
    showResult(t, true);
    say('info', '工单 ' + t.ticket + ' 已直接办结');
    resetIntake();
    $('f-name').focus();
  } catch (e) {
    fail(e, t ? '工单 ' + t.ticket + ' 已受理，但直接办结' : '提交');
  } finally {
    busy(['direct-submit', 'submit'], false);
  }
}

/* ------------------------------------------------------------ queue */

async function loadQueue() {
  /* Only the latest call's answer is shown (an earlier one may come later),
   * and the row that had the focus keeps it across a refresh. */
  const seq = S.queueSeq = (S.queueSeq || 0) + 1;
  const q = new URLSearchParams({ limit: '100' });
  if ($('q-state').value) q.set('state', $('q-state').value);
  if ($('q-unit').value) q.set('unit', $('q-unit').value);
  if ($('q-category').value) q.set('category', $('q-category').value);
  try {
    const d = await api('GET', '/tickets?' + q);
    if (seq !== S.queueSeq) return;
    const tb = $('queue-table').tBodies[0];
    const focused = tb.contains(document.activeElement) ? document.activeElement.dataset.ticket : null;
    tb.replaceChildren();
    for (const t of d.tickets) {
      const open = () => openTicket(t.ticket);
      tb.append(el('tr', { tabindex: '0', 'data-ticket': t.ticket, onclick: open, onkeydown: (ev) => rowKey(ev, open) },
        el('td', {}, t.ticket), el('td', {}, time(t.created_at)), el('td', { class: 'text' }, t.title || t.body.slice(0, 40)),
        el('td', {}, t.category_name || t.category), el('td', {}, t.unit ? t.unit_name || unitName(t.unit) : '（待派单）'),
        el('td', {}, el('span', { class: 'state' }, STATES[t.state] || t.state)),
        el('td', { class: t.overdue ? 'overdue' : '' }, time(t.deadlines.reply) + (t.overdue ? ' 已超期' : ''))));
    }
    const again = focused && tb.querySelector('tr[data-ticket="' + CSS.escape(focused) + '"]');
    if (again) again.focus();
    $('q-count').textContent = '共 ' + d.count + ' 件' + (d.count >= 100 ? '（仅显示最新 100 件）' : '') + '，' + new Date().toLocaleTimeString('zh-CN') + ' 更新';
  } catch (e) {
    if (seq === S.queueSeq) fail(e, '读取队列');
  }
}

function rowKey(ev, open) {
  const tr = ev.currentTarget;
  if (ev.key === 'Enter') { ev.preventDefault(); open(); }
  else if (ev.key === 'ArrowDown' && tr.nextElementSibling) { ev.preventDefault(); tr.nextElementSibling.focus(); }
  else if (ev.key === 'ArrowUp' && tr.previousElementSibling) { ev.preventDefault(); tr.previousElementSibling.focus(); }
}

/* ------------------------------------------------------------ one ticket */

async function openTicket(no, reveal) {
  show('lookup');
  $('l-ticket').value = no;
  $('action-form').hidden = true;
  const seq = S.ticketSeq = (S.ticketSeq || 0) + 1; /* the latest lookup wins */
  try {
    const t = await api('GET', '/tickets/' + encodeURIComponent(no) + (reveal ? '?reveal=' + encodeURIComponent(reveal) : ''));
    if (seq !== S.ticketSeq) return;
    S.ticket = t;
    renderTicket(t, !!reveal);
    clearAlert();
  } catch (e) {
    if (seq !== S.ticketSeq) return;
    S.ticket = null;
    $('detail').hidden = true;
    fail(e, '查询工单');
  }
}

function requesterText(t) {
  const r = t.requester;
  if (!r) return '（无）';
  const parts = [];
  if (r.name) parts.push(r.name);
  if (r.phone) parts.push(r.phone);
  if (r.id_number) parts.push(r.id_number);
  if (r.anonymous) parts.push('匿名');
  if (r.confidential) parts.push('保密');
  return parts.join('，') || '（未留）';
}

function renderTicket(t, revealed) {
  $('detail').hidden = false;
  $('d-title').replaceChildren(...['工单 ' + t.ticket + ' ', el('span', { class: 'state', id: 'd-state' }, STATES[t.state] || t.state),
    t.overdue ? el('span', { class: 'overdue' }, ' 已超期') : null].filter(Boolean));
  const d = t.deadlines || {};
  const rows = [
    ['标题', t.title || '—'], ['诉求内容', t.body],
    ['分类', (t.category_name || t.category) + '（' + (t.classifier === 'requester' ? '来电人选择' : '置信度 ' + Math.round(t.confidence * 100) + '%') + '）'],
    ['承办单位', t.unit ? t.unit_name || unitName(t.unit) : '（待派单）'],
    ['协办单位', t.assisting_units.length ? t.assisting_units.map(unitName).join('、') : '—'],
    ['区域 / 地址', (t.region_name || t.region || '—') + ' ' + (t.location.address || '')],
    ['来电人', requesterText(t) + (revealed ? '（完整信息，已记入访问日志）' : '')],
    ['渠道 / 类型', (CHANNELS[t.channel] || t.channel) + ' / ' + (TYPES[t.type] || t.type) + ' / ' + (URGENCIES[t.urgency] || t.urgency)],
    ['受理时间', time(t.received_at)],
    ['时限', '签收 ' + time(d.sign) + '；联系 ' + time(d.contact) + '；答复 ' + time(d.reply) + (d.callback ? '；回访 ' + time(d.callback) : '')],
    ['次数', '退单 ' + t.return_count + '，延期 ' + t.extension_count + '，重办 ' + t.reopen_count + '，回访 ' + t.callback_attempts + (t.supervision ? '，督办 ' + t.supervision + ' 级' : '')],
  ];
  if (t.rating) rows.push(['评价', word(t.rating.resolution) + ' / ' + word(t.rating.satisfaction)]);
  if (t.parent) rows.push(['并入', t.parent]);
  if (t.closed_at) rows.push(['办结时间', time(t.closed_at)]);
  rows.push(['版本', String(t.version)]);
  const dl = $('d-fields');
  dl.replaceChildren();
  for (const [k, v] of rows) dl.append(el('dt', {}, k), el('dd', {}, v));
  $('d-reveal').hidden = revealed || !t.requester || !['office', 'supervisor', 'admin'].includes(S.me.role);

  const acts = $('d-actions');
  acts.replaceChildren();
  for (const a of t.actions || []) {
    acts.append(el('button', { type: 'button', 'data-action': a, onclick: () => openAction(a) }, ACTIONS[a] ? ACTIONS[a][0] : a));
  }
  if (!acts.children.length) acts.append(el('span', { class: 'hint' }, '当前没有您可执行的操作'));

  const tb = $('d-history').tBodies[0];
  tb.replaceChildren();
  for (const e of t.history || []) {
    const who = e.actor ? (ROLES[e.actor.role] || e.actor.role) + (e.actor.unit ? ' ' + unitName(e.actor.unit) : '') + (e.actor.id ? ' ' + e.actor.id : '') : '';
    const p = Object.entries(e.payload || {}).map(([k, v]) => (KEYS[k] || k) + '：' + word(v)).join('；');
    tb.append(el('tr', {}, el('td', {}, time(e.at)), el('td', {}, EVENTS[e.kind] || (ACTIONS[e.kind] ? ACTIONS[e.kind][0] : e.kind)),
      el('td', {}, STATES[e.to] || e.to || ''), el('td', {}, who),
      el('td', { class: 'text' }, [word(e.reason_code), e.reason, p].filter(Boolean).join('；'))));
  }
}

function openAction(a) {
  S.action = a;
  const [label, fields] = ACTIONS[a] || [a, [area('reason', '说明')]];
  $('a-title').textContent = label + ' — 工单 ' + S.ticket.ticket;
  const box = $('a-fields');
  box.replaceChildren();
  for (const f of fields) {
    let input;
    if (f.kind === 'area') input = el('textarea', { rows: '3' });
    else if (f.kind === 'select') { input = el('select', {}); for (const [v, t] of f.options) input.append(el('option', { value: v }, t)); }
    else if (f.kind === 'unit') {
      input = el('select', {}, el('option', { value: '' }, '（不选）'));
      for (const u of S.ref.units) input.append(el('option', { value: u.code }, u.name));
    } else input = el('input', { type: f.kind === 'number' ? 'number' : 'text', min: '1' });
    input.id = 'a-' + f.k;
    input.dataset.key = f.k;
    input.dataset.kind = f.kind;
    box.append(el('label', {}, f.label + (f.required ? '（必填）' : ''), input));
  }
  if (!fields.length) box.append(el('p', { class: 'hint' }, '确认执行“' + label + '”？'));
  $('action-form').hidden = false;
  const first = box.querySelector('input, select, textarea');
  (first || $('a-submit')).focus();
}

async function submitAction() {
  const a = S.action, t = S.ticket;
  const body = { action: a, expected_version: t.version };
  for (const input of $('a-fields').querySelectorAll('[data-key]')) {
    const v = input.value.trim();
    if (!v) continue;
    if (a === 'callback' && body.outcome !== 'rated' && (input.dataset.key === 'resolution' || input.dataset.key === 'satisfaction')) continue;
    body[input.dataset.key] = input.dataset.kind === 'number' ? Number(v) : v;
  }
  const fields = (ACTIONS[a] || [0, []])[1];
  const missing = fields.find((f) => f.required && body[f.k] === undefined);
  if (missing) { say('error', '请填写' + missing.label); $('a-' + missing.k).focus(); return; }
  busy(['a-submit'], true);
  try {
    const r = await api('POST', '/tickets/' + t.ticket + '/actions', body, { 'Idempotency-Key': newKey() });
    $('action-form').hidden = true;
    await openTicket(t.ticket);
    say('info', (ACTIONS[a] ? ACTIONS[a][0] : a) + '成功，工单状态：' + (STATES[r.state] || r.state));
  } catch (e) {
    fail(e, ACTIONS[a] ? ACTIONS[a][0] : a);
  } finally {
    busy(['a-submit'], false);
  }
}

/* ------------------------------------------------------------ knowledge base */

function catName(code) {
  if (!code) return '—';
  const c = S.ref && S.ref.categories.find((x) => x.code === code);
  return c ? c.name : code;
}
function pct(v) { return v === null || v === undefined ? '—' : Math.round(v * 100) + '%'; }
function kbPane(id) { for (const p of ['k-new', 'k-entry', 'k-report']) $(p).hidden = p !== id; }

async function kbSearch() {
  const q = $('k-q').value.trim();
  if (!q) { say('error', '请输入问题'); $('k-q').focus(); return; }
  try {
    const d = await api('GET', '/kb/search?' + new URLSearchParams({ q, limit: '20' }));
    const ul = $('k-results');
    ul.replaceChildren();
    if (!d.results.length) ul.append(el('li', { class: 'hint' }, '没有找到相关答案'));
    for (const k of d.results) {
      const open = () => kbOpen(k.id);
      ul.append(el('li', { tabindex: '0', 'data-kb': k.id, onclick: open, onkeydown: (ev) => rowKey(ev, open) },
        el('strong', {}, k.title), ' ', el('span', { class: 'hint' }, '匹配 ' + Math.min(100, Math.round(k.score * 100)) + '% · ' + catName(k.category)),
        el('div', { class: 'answer' }, k.answer.slice(0, 90) + (k.answer.length > 90 ? '…' : ''))));
    }
  } catch (e) {
    fail(e, '查找');
  }
}

async function kbOpen(id) {
  let e, h;
  try {
    [e, h] = await Promise.all([api('GET', '/kb/' + id), api('GET', '/kb/' + id + '/history')]);
  } catch (err) {
    fail(err, '读取条目');
    return;
  }
  S.kbEntry = e;
  $('ke-title').textContent = e.title;
  const dl = $('ke-fields');
  dl.replaceChildren();
  const row = (k, v) => dl.append(el('dt', {}, k), el('dd', {}, v === null || v === undefined || v === '' ? '—' : v));
  row('状态', (KB_STATUS[e.status] || e.status) + '（第 ' + e.version + ' 版）');
  row('其他问法', e.variants.join('；'));
  row('答案', e.answer);
  row('依据', e.legal_basis);
  row('分类', catName(e.category));
  row('负责单位', e.unit ? unitName(e.unit) : '—');
  row('有效期', (e.valid_from ? time(e.valid_from) : '不限') + ' 至 ' + (e.valid_to ? time(e.valid_to) : '不限'));
  row('复核日期', e.review_at);
  row('来源工单', e.source_ticket);
  row('更新', time(e.updated_at) + ' ' + e.updated_by);
  const acts = $('ke-actions');
  acts.replaceChildren();
  const role = S.me.role, own = role === 'unit' && e.unit === S.me.unit, office = role === 'office' || role === 'admin';
  if ((office || own) && e.status !== 'retired') acts.append(el('button', { type: 'button', id: 'ke-edit', onclick: () => kbForm(e, e) }, '修改'));
  if (office && e.status !== 'published') acts.append(el('button', { type: 'button', id: 'ke-publish', class: 'primary', onclick: () => kbStatus(e, 'publish') }, '发布'));
  if ((office || own) && e.status !== 'retired') acts.append(el('button', { type: 'button', id: 'ke-retire', onclick: () => kbStatus(e, 'retire') }, '停用'));
  const tb = $('ke-history').tBodies[0];
  tb.replaceChildren();
  for (const v of h.versions.slice().reverse())
    tb.append(el('tr', {}, el('td', {}, v.version), el('td', {}, KB_STATUS[v.status] || v.status),
      el('td', {}, KB_CHANGE[v.change] || v.change), el('td', {}, time(v.changed_at)), el('td', {}, v.changed_by)));
  kbPane('k-entry');
}

/* The draft form: a new entry (entry null; seed fills it) or an edit. */
function kbForm(entry, seed) {
  S.kbEdit = entry;
  $('k-new-title').textContent = entry ? '修改条目（第 ' + entry.version + ' 版）' : '新建草稿';
  $('kn-title').value = seed.title || '';
  $('kn-answer').value = seed.answer || '';
  $('kn-legal').value = seed.legal_basis || '';
  $('kn-category').value = seed.category || '';
  kbPane('k-new');
  $('kn-title').focus();
}

async function kbSave() {
  const b = { title: $('kn-title').value.trim(), answer: $('kn-answer').value.trim(), legal_basis: $('kn-legal').value.trim() };
  if ($('kn-category').value) b.category = $('kn-category').value;
  if (!b.title || !b.answer) { say('error', '请填写问题和答案'); return; }
  const e = S.kbEdit;
  try {
    let r;
    if (e) {
      Object.assign(b, { version: e.version, variants: e.variants });
      if (e.valid_from) b.valid_from = e.valid_from;
      if (e.valid_to) b.valid_to = e.valid_to;
      if (e.review_at) b.review_at = e.review_at;
      r = await api('PUT', '/kb/' + e.id, b);
    } else {
      r = await api('POST', '/kb', b);
    }
    say('info', (e ? '已保存为第 ' + r.version + ' 版' : '草稿已保存') + '（条目 ' + r.id + '）');
    kbOpen(r.id);
  } catch (err) {
    fail(err, '保存');
  }
}

async function kbStatus(e, what) {
  try {
    const r = await api('POST', '/kb/' + e.id + '/' + what, { version: e.version });
    say('info', '条目 ' + r.id + (what === 'publish' ? ' 已发布' : ' 已停用'));
    kbOpen(r.id);
  } catch (err) {
    fail(err, what === 'publish' ? '发布' : '停用');
  }
}

function kbTable(head, rows, hint, title) {
  $('kr-title').textContent = title;
  $('kr-hint').textContent = hint;
  const t = $('kr-table');
  t.tHead.replaceChildren(el('tr', {}, ...head.map((h) => el('th', {}, h))));
  t.tBodies[0].replaceChildren(...rows);
  kbPane('k-report');
}

async function kbEffectiveness() {
  try {
    const d = await api('GET', '/kb/reports/effectiveness');
    const rows = d.entries.map((e) => {
      const open = () => kbOpen(e.id);
      return el('tr', { tabindex: '0', 'data-kb': e.id, onclick: open, onkeydown: (ev) => rowKey(ev, open) },
        el('td', { class: 'text' }, e.title), el('td', {}, e.uses), el('td', {}, e.direct_closures), el('td', {}, e.reply_citations),
        el('td', {}, pct(e.repeat_rate)), el('td', {}, pct(e.satisfaction_rate)),
        el('td', {}, ...e.flags.map((f) => el('span', { class: 'flag' }, KB_FLAGS[f] || f))));
    });
    kbTable(['条目', '使用', '直接办结', '答复引用', '7日重复来电', '满意率', '提示'], rows,
      time(d.from) + ' 至 ' + time(d.to) + '：共使用 ' + d.totals.uses + ' 次，直接办结 ' + d.totals.direct_closures +
      ' 件，重复来电率 ' + pct(d.totals.repeat_rate) + '，满意率 ' + pct(d.totals.satisfaction_rate) + '（匿名来电不计重复来电）',
      '答复效果');
  } catch (err) {
    fail(err, '读取答复效果');
  }
}

async function kbGaps() {
  try {
    const d = await api('GET', '/kb/reports/gaps');
    const office = ['office', 'admin', 'unit'].includes(S.me.role);
    const rows = d.gaps.map((g) => el('tr', {},
      el('td', {}, g.size), el('td', { class: 'text' }, g.question), el('td', {}, catName(g.category)),
      el('td', {}, g.unit ? unitName(g.unit) : '—'), el('td', {}, pct(g.nearest ? g.nearest.score : 0)),
      el('td', {}, ...g.examples.slice(0, 3).map((x) => el('a', { href: '#', onclick: (ev) => { ev.preventDefault(); openTicket(x.ticket); } }, x.ticket + ' '))),
      el('td', {}, office ? el('button', { type: 'button', onclick: () => kbForm(null, { title: g.question, category: g.category }) }, '起草') : '')));
    kbTable(['咨询数', '问题', '分类', '归属单位', '最接近答案', '示例工单', ''], rows,
      '近 ' + d.days + ' 天的 ' + d.scanned + ' 件咨询中，知识库匹配度低于 ' + pct(d.score_below) + ' 且彼此相似的问题（至少 ' + d.min_size + ' 件）',
      '知识盲区');
  } catch (err) {
    fail(err, '读取知识盲区');
  }
}

/* ------------------------------------------------------------ figures */

const CARDS = [['accepted', '受理', 'n'], ['finished', '办结', 'n'], ['completion_rate', '办结率', 'r'],
  ['on_time_rate', '按时办结率', 'r'], ['response_rate', '响应率', 'r'], ['resolution_rate', '解决率', 'r'],
  ['satisfaction_rate', '满意率', 'r'], ['direct_resolution_rate', '直接办结率', 'r'], ['overdue', '超期', 'n']];

function rate(v) { return v === null || v === undefined ? '—' : (v * 100).toFixed(2) + '%'; }

async function loadStats() {
  const seq = S.statsSeq = (S.statsSeq || 0) + 1;
  const q = new URLSearchParams();
  if ($('s-from').value) q.set('from', $('s-from').value);
  if ($('s-to').value) q.set('to', $('s-to').value);
  try {
    const d = await api('GET', '/stats?' + q);
    if (seq !== S.statsSeq) return;
    $('s-cards').replaceChildren(...CARDS.map(([k, label, kind]) => el('div', { class: 'card', 'data-k': k },
      el('div', { class: 'v' }, kind === 'r' ? rate(d.totals[k]) : d.totals[k]), el('div', { class: 'k' }, label))));
    const key = $('s-sort').value;
    const units = d.by_unit.filter((u) => u.unit).sort((a, b) => (b[key] ?? -1) - (a[key] ?? -1) || b.accepted - a.accepted);
    $('s-table').tBodies[0].replaceChildren(...units.map((u, i) => el('tr', { 'data-unit': u.unit },
      el('td', {}, i + 1), el('td', {}, u.unit_name || u.unit), el('td', {}, u.accepted), el('td', {}, u.dispatched),
      el('td', {}, u.finished), el('td', {}, rate(u.completion_rate)), el('td', {}, rate(u.on_time_rate)),
      el('td', {}, rate(u.response_rate)), el('td', {}, rate(u.resolution_rate)), el('td', {}, rate(u.satisfaction_rate)),
      el('td', {}, rate(u.return_rate)), el('td', { class: u.overdue ? 'overdue' : '' }, u.overdue))));
    $('s-updated').textContent = time(d.from) + ' 至 ' + time(d.to) + '，' + new Date().toLocaleTimeString('zh-CN') + ' 更新（每分钟自动刷新）';
  } catch (e) {
    if (seq === S.statsSeq) fail(e, '读取统计');
  }
}

/* ------------------------------------------------------------ wiring */

function wire() {
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const tok = $('token').value.trim();
    if (!tok) { say('error', '请输入访问令牌'); return; }
    login(tok);
  });
  $('logout').addEventListener('click', logout);
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => show(b.dataset.tab));

  $('intake-form').addEventListener('submit', (ev) => { ev.preventDefault(); submitIntake(); });
  $('intake-form').addEventListener('reset', () => setTimeout(afterReset, 0));
  for (const id of ['f-title', 'f-body', 'f-address']) $(id).addEventListener('input', preview);
  for (const id of ['f-region', 'f-type', 'f-urgency']) $(id).addEventListener('change', preview);
  $('direct-open').addEventListener('click', () => { $('direct').hidden = false; $('direct-answer').focus(); });
  $('direct-cancel').addEventListener('click', () => { $('direct').hidden = true; dropKb(); $('f-body').focus(); });
  $('direct-kb-drop').addEventListener('click', dropKb);

  $('kb-form').addEventListener('submit', (ev) => { ev.preventDefault(); kbSearch(); });
  $('k-new-open').addEventListener('click', () => kbForm(null, {}));
  $('kn-cancel').addEventListener('click', () => { $('k-new').hidden = true; });
  $('k-new').addEventListener('submit', (ev) => { ev.preventDefault(); kbSave(); });
  $('k-eff').addEventListener('click', kbEffectiveness);
  $('stats-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadStats(); });
  $('s-sort').addEventListener('change', loadStats);
  $('k-gaps').addEventListener('click', kbGaps);
  $('direct-submit').addEventListener('click', submitDirect);

  $('queue-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadQueue(); });
  for (const id of ['q-state', 'q-unit', 'q-category']) $(id).addEventListener('change', loadQueue);

  $('lookup-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const no = $('l-ticket').value.trim();
    if (!no) { say('error', '请输入工单号'); return; }
    openTicket(no);
  });
  $('d-reveal-go').addEventListener('click', () => {
    const why = $('d-reveal-reason').value.trim();
    if (!why) { say('error', '请填写查看理由'); $('d-reveal-reason').focus(); return; }
    openTicket(S.ticket.ticket, why);
  });
  $('action-form').addEventListener('submit', (ev) => { ev.preventDefault(); submitAction(); });
  $('a-cancel').addEventListener('click', () => { $('action-form').hidden = true; });

  document.addEventListener('keydown', (ev) => {
    if (!S.me) return;
    if (ev.altKey && !ev.ctrlKey && ['1', '2', '3', '4', '5'].includes(ev.key)) {
      ev.preventDefault();
      show(TABS[Number(ev.key) - 1]);
    } else if (ev.altKey && (ev.key === 'd' || ev.key === 'D') && S.tab === 'intake') {
      ev.preventDefault();
      $('direct').hidden = false;
      $('direct-answer').focus();
    } else if (ev.ctrlKey && ev.key === 'Enter') {
      ev.preventDefault();
      if (S.tab === 'lookup' && !$('action-form').hidden) submitAction();
      else if (S.tab === 'intake' && !$('direct').hidden && $('direct').contains(document.activeElement)) submitDirect();
      else if (S.tab === 'intake') submitIntake();
    } else if (ev.key === 'Escape') {
      if (!$('action-form').hidden) $('action-form').hidden = true;
      else if (!$('direct').hidden) { $('direct').hidden = true; dropKb(); $('f-body').focus(); }
      else if (S.tab === 'kb' && !$('k-new').hidden) $('k-new').hidden = true;
      clearAlert();
    }
  });
}

wire();
if (S.token) login(S.token); else $('token').focus();
