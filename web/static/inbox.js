// feedbackd inbox (docs/inbox.md).
//
// The inbox is a shell the server renders the same for everyone; this script
// signs in and fills it. An inbox link carries its token in the URL
// fragment, which never reaches a server: the script reads it, takes it out
// of the address bar and the history at once (history.replaceState), and
// trades it once (POST /inbox/session) for an HttpOnly session cookie that
// it can never read. Every request after that goes to the inbox's own routes
// (/inbox/api/…), which take the cookie and nothing else, and the notifier's
// WebSocket is opened with a short-lived token minted from the cookie.
//
// Questions are listed pending first, then answered, expired and cancelled,
// newest first within each, and kept current over the socket. Opening one
// renders it exactly as the feedback page does (the server's InboxQuestion)
// and runs the page's own script over it (feedback.js, window.feedbackd),
// with a transport that follows the inbox's socket instead of opening one
// per question. Settings (channels, this device's Web Push, the links) use
// the same REST shapes as /api/channels. Every text comes from the server's
// translations; markup is only ever the server's rendering or a <template>
// of the shell, filled with textContent.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const data = JSON.parse($('inbox-data').textContent);
  const i18n = data.i18n || {};
  const lang = data.lang === 'zh' ? 'zh' : 'en';
  const locale = lang === 'zh' ? 'zh-CN' : 'en';

  const t = (key, args = {}) => {
    let text = Object.prototype.hasOwnProperty.call(i18n, key) ? i18n[key] : key;
    for (const [name, value] of Object.entries(args)) text = text.split(`{${name}}`).join(String(value));
    return text;
  };
  const has = (key) => Object.prototype.hasOwnProperty.call(i18n, key);
  const api = (path) => data.apiUrl + path;
  const fromTemplate = (id) => $(id).content.firstElementChild.cloneNode(true);

  // ---- Requests ---------------------------------------------------------------

  // RequestError is a refused or failed request: status 0 when the server
  // was not reached.
  class RequestError extends Error {
    constructor(status, code, field, message) {
      super(message || code || `HTTP ${status}`);
      this.status = status;
      this.code = code;
      this.field = field;
    }
  }

  let onUnauthorized = () => {};

  // request sends JSON (when body is given) with the session cookie and
  // returns the envelope's data, or throws a RequestError.
  const request = async (method, url, body) => {
    const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new RequestError(0, 'NETWORK', '', '');
    }
    const payload = await response.json().catch(() => null);
    if (response.ok && payload && payload.success) return payload.data;
    const error = (payload && payload.error) || {};
    const field = String((error.details && error.details.field) || '');
    const reason = String((error.details && error.details.reason) || error.message || '');
    if (response.status === 401 && url !== data.sessionUrl) onUnauthorized();
    throw new RequestError(response.status, error.code || '', field, reason);
  };

  // errorText says what went wrong in the reader's language.
  const errorText = (err) => {
    const code = (err && err.code) || '';
    if (code === 'NETWORK') return t('error.NETWORK');
    if (code === 'SESSION_NOT_FOUND') return t('inbox.error.gone');
    if (has(`error.${code}`)) return t(`error.${code}`);
    return t('error.generic');
  };

  // ---- Times -----------------------------------------------------------------

  let clockOffset = 0; // server time minus the browser's
  const now = () => Date.now() + clockOffset;

  const dateTime = (iso) => {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    try {
      return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
    } catch {
      return d.toLocaleString();
    }
  };

  const ago = (iso) => {
    const ms = Date.parse(iso) - now();
    if (Number.isNaN(ms)) return '';
    const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
    const abs = Math.abs(ms);
    if (abs < 60000) return rtf.format(Math.round(ms / 1000), 'second');
    if (abs < 3600000) return rtf.format(Math.round(ms / 60000), 'minute');
    if (abs < 86400000) return rtf.format(Math.round(ms / 3600000), 'hour');
    return rtf.format(Math.round(ms / 86400000), 'day');
  };

  const left = (iso) => {
    const total = Math.max(0, Math.ceil((Date.parse(iso) - now()) / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, '0');
    return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
  };

  // ---- The shell -------------------------------------------------------------

  const banner = $('banner');
  const showBanner = (text) => {
    banner.textContent = text;
    banner.hidden = !text;
  };

  const showSignin = (text) => {
    $('signin-text').textContent = text;
    $('signin').hidden = false;
    $('tabs').hidden = true;
    $('view-questions').hidden = true;
    $('view-settings').hidden = true;
  };

  let tab = 'questions';
  const showTab = (name) => {
    tab = name;
    for (const button of document.querySelectorAll('#tabs [data-tab]')) {
      if (button.dataset.tab === name) button.setAttribute('aria-current', 'page');
      else button.removeAttribute('aria-current');
    }
    $('view-questions').hidden = name !== 'questions';
    $('view-settings').hidden = name !== 'settings';
    if (name === 'settings') loadSettings();
  };
  for (const button of document.querySelectorAll('#tabs [data-tab]')) {
    button.addEventListener('click', () => showTab(button.dataset.tab));
  }

  // ---- Questions -------------------------------------------------------------

  const rank = { pending: 0, completed: 1, expired: 2, cancelled: 3 };
  const items = new Map(); // session id → {s, li, body, stop}
  const watchers = new Map(); // session id → onStatus, for the question open
  let cursor = '';
  let openId = '';

  const firstLine = (text) =>
    String(text || '')
      .split('\n')
      .map((line) => line.replace(/^[\s#>*\-+]+/, '').replace(/[*_`~]/g, '').trim())
      .find(Boolean) || '';

  const headline = (s) => {
    if (s.title) return s.title;
    if (s.kind === 'approval' && s.action) return t('inbox.item.approve', { action: s.action });
    return firstLine(s.message) || t('inbox.item.untitled');
  };

  // The texts looked up by a value are spelled out, so that every key in
  // the translations is found where it is used.
  const statusText = (s) =>
    ({
      pending: t('inbox.status.pending'),
      completed: t('inbox.status.completed'),
      expired: t('inbox.status.expired'),
      cancelled: t('inbox.status.cancelled'),
    })[s.status] || s.status;

  const meta = (s) => {
    switch (s.status) {
      case 'pending': {
        const ms = Date.parse(s.expiresAt) - now();
        return ms > 0 ? t('inbox.item.left', { time: left(s.expiresAt) }) : t('countdown.ended');
      }
      case 'completed':
        return t('inbox.item.answered', { when: ago(s.submittedAt || s.createdAt) });
      case 'expired':
        return t('inbox.item.expired', { when: ago(s.expiresAt) });
      default:
        return t('inbox.item.asked', { when: ago(s.createdAt) });
    }
  };

  const paint = (entry) => {
    const { s, li } = entry;
    li.dataset.status = s.status;
    li.dataset.sessionId = s.sessionId;
    const badge = li.querySelector('.badge');
    badge.dataset.status = s.status;
    badge.textContent = s.kind === 'approval' && s.status === 'pending' ? t('inbox.status.approval') : statusText(s);
    li.querySelector('.item-title').textContent = headline(s);
    const when = li.querySelector('.item-meta');
    when.textContent = meta(s);
    when.classList.toggle('is-urgent', s.status === 'pending' && Date.parse(s.expiresAt) - now() < 60000);
  };

  const order = () => {
    const list = $('list');
    const sorted = [...items.values()].sort(
      (a, b) => (rank[a.s.status] ?? 9) - (rank[b.s.status] ?? 9) || Date.parse(b.s.createdAt) - Date.parse(a.s.createdAt),
    );
    const focused = document.activeElement;
    sorted.forEach((entry, i) => {
      if (list.children[i] !== entry.li) list.insertBefore(entry.li, list.children[i] || null);
    });
    if (focused && focused !== document.activeElement && document.contains(focused)) focused.focus();
    $('empty').hidden = items.size > 0;
    const pending = sorted.filter((e) => e.s.status === 'pending').length;
    const count = $('pending-count');
    count.textContent = String(pending);
    count.hidden = pending === 0;
    document.title = (pending ? `(${pending}) ` : '') + t('inbox.title') + ' · feedbackd';
  };

  // upsert adds a session or merges what is newer into the one shown.
  const upsert = (s) => {
    let entry = items.get(s.sessionId);
    if (!entry) {
      const li = fromTemplate('item-template');
      const head = li.querySelector('.item-head');
      const body = li.querySelector('.item-body');
      body.id = `q-${s.sessionId}`;
      head.setAttribute('aria-controls', body.id);
      entry = { s: { ...s }, li, body, stop: null };
      head.addEventListener('click', () => toggle(s.sessionId));
      items.set(s.sessionId, entry);
    } else {
      const finished = entry.s.status !== 'pending';
      const merged = { ...entry.s };
      for (const [k, v] of Object.entries(s)) if (v !== undefined && v !== '') merged[k] = v;
      // Statuses go one way: a late or replayed "pending" never reopens one.
      if (finished) merged.status = entry.s.status;
      entry.s = merged;
    }
    paint(entry);
    return entry;
  };

  const setStatus = (id, status, extra = {}) => {
    const entry = items.get(id);
    if (!entry) return;
    if (entry.s.status !== 'pending' && status === 'pending') return;
    entry.s = { ...entry.s, ...extra, status };
    paint(entry);
    order();
  };

  const loadPage = async () => {
    const more = $('more');
    more.setAttribute('aria-busy', 'true');
    try {
      const q = new URLSearchParams({ limit: '20' });
      if (cursor) q.set('cursor', cursor);
      const page = await request('GET', `${api('/sessions')}?${q}`);
      for (const s of page.items || []) upsert(s);
      cursor = page.nextCursor || '';
      more.hidden = !cursor;
      order();
      showBanner('');
    } catch (err) {
      showBanner(errorText(err));
    } finally {
      more.removeAttribute('aria-busy');
    }
  };
  $('more').addEventListener('click', loadPage);

  // closeOpen folds the question that is open, stopping its script.
  const closeOpen = () => {
    if (!openId) return;
    const entry = items.get(openId);
    watchers.delete(openId);
    openId = '';
    if (!entry) return;
    if (entry.stop) entry.stop();
    entry.stop = null;
    entry.body.replaceChildren();
    entry.body.hidden = true;
    entry.li.classList.remove('is-open');
    entry.li.querySelector('.item-head').setAttribute('aria-expanded', 'false');
  };

  const toggle = (id) => {
    if (openId === id) closeOpen();
    else open(id, false);
  };

  // answerBlock shows what was answered, under a finished question.
  const answerBlock = (detail) => {
    const answer = detail.answer;
    if (!answer) return null;
    const box = document.createElement('section');
    box.className = 'card inbox-answer';
    const h = document.createElement('h3');
    h.textContent = t('inbox.answer.title');
    const text = document.createElement('p');
    text.className = 'sent-text';
    text.textContent = answer.combinedFeedback || '';
    box.append(h, text);
    if (answer.images && answer.images.length) {
      const ul = document.createElement('ul');
      ul.className = 'shots';
      for (const img of answer.images) {
        const li = document.createElement('li');
        const a = document.createElement('a');
        a.href = img.url;
        a.target = '_blank';
        a.rel = 'noopener';
        const el = document.createElement('img');
        el.src = img.url;
        el.alt = img.name || t('images.label');
        el.loading = 'lazy';
        a.append(el);
        li.append(a);
        ul.append(li);
      }
      box.append(ul);
    }
    if (answer.submittedAt) {
      const at = document.createElement('p');
      at.className = 'sent-at';
      at.textContent = t('view.submitted.at', { time: dateTime(answer.submittedAt) });
      box.append(at);
    }
    return box;
  };

  // open shows a question in place: the server renders it as the page
  // does, and feedback.js runs over it.
  const open = async (id, scroll) => {
    closeOpen();
    let detail;
    try {
      const q = new URLSearchParams({ lang, theme: data.theme });
      detail = await request('GET', `${api(`/sessions/${encodeURIComponent(id)}`)}?${q}`);
    } catch (err) {
      showBanner(err.code === 'SESSION_NOT_FOUND' ? t('inbox.error.gone') : errorText(err));
      return;
    }
    const entry = upsert(detail.session);
    order();
    if (openId) closeOpen();
    openId = id;
    const fragment = new DOMParser().parseFromString(detail.html, 'text/html');
    entry.body.replaceChildren(...fragment.body.childNodes);
    const block = answerBlock(detail);
    if (block) entry.body.append(block);
    entry.body.hidden = false;
    entry.li.classList.add('is-open');
    entry.li.querySelector('.item-head').setAttribute('aria-expanded', 'true');
    const pageData = entry.body.querySelector('#page-data');
    if (pageData && window.feedbackd) {
      const cfg = JSON.parse(pageData.textContent);
      entry.stop = window.feedbackd.start(cfg, {
        watch: (onStatus) => {
          watchers.set(id, onStatus);
          return () => watchers.delete(id);
        },
        state: async () => {
          const d = await request('GET', api(`/sessions/${encodeURIComponent(id)}`));
          return { status: d.session.status, expiresAt: d.session.expiresAt };
        },
        finished: (view) => {
          if (view === 'submitted') setStatus(id, 'completed', { submittedAt: new Date(now()).toISOString() });
        },
      });
    }
    if (scroll) entry.li.scrollIntoView({ block: 'start' });
  };

  // A pending question counts down in the list too.
  setInterval(() => {
    for (const entry of items.values()) if (entry.s.status === 'pending') paint(entry);
  }, 1000);

  // ---- Live updates ----------------------------------------------------------

  let socket = null;
  let revision = 0;
  let socketTries = 0;
  let socketTimer = 0;
  let pingTimer = 0;
  let stopped = false;

  const setLive = (state) => {
    const el = $('live');
    el.dataset.state = state;
    $('live-text').textContent = { live: t('inbox.live.live'), offline: t('inbox.live.offline') }[state] || t('inbox.live.connecting');
  };

  const onMessage = (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    const d = (message && message.data) || {};
    if (typeof d.revision === 'number' && d.revision > revision) revision = d.revision;
    switch (message.type) {
      case 'connection_established':
        if (d.serverTime) clockOffset = Date.parse(d.serverTime) - Date.now() || 0;
        break;
      case 'session_created': {
        const fresh = !items.has(d.sessionId);
        upsert({
          sessionId: d.sessionId, status: 'pending', kind: d.kind || 'question', title: d.title, action: d.action,
          message: d.message, createdAt: d.createdAt, expiresAt: d.expiresAt,
        });
        order();
        if (fresh) items.get(d.sessionId).li.classList.add('is-new');
        break;
      }
      case 'session_status_changed': {
        if (!items.has(d.sessionId) && d.message !== undefined) {
          upsert({ sessionId: d.sessionId, status: d.newStatus, title: d.title, message: d.message, createdAt: d.createdAt, expiresAt: d.expiresAt });
        }
        setStatus(d.sessionId, d.newStatus, d.newStatus === 'completed' ? { submittedAt: d.timestamp } : {});
        const w = watchers.get(d.sessionId);
        if (w) w(d.newStatus, d.expiresAt);
        break;
      }
      case 'feedback_submitted':
        setStatus(d.sessionId, 'completed', { submittedAt: d.timestamp });
        break;
      case 'session_expired':
        setStatus(d.sessionId, 'expired');
        if (watchers.get(d.sessionId)) watchers.get(d.sessionId)('expired');
        break;
      default:
        break;
    }
  };

  const reconnect = () => {
    clearTimeout(socketTimer);
    if (stopped) return;
    setLive('offline');
    socketTimer = setTimeout(connect, Math.min(30000, 1000 * 2 ** socketTries));
    socketTries++;
  };

  const connect = async () => {
    if (stopped || socket) return;
    setLive('connecting');
    let grant;
    try {
      grant = await request('POST', api('/socket'));
    } catch (err) {
      if (err.status !== 401) reconnect();
      return;
    }
    const url = new URL(grant.url, window.location.href);
    if (url.protocol === 'https:') url.protocol = 'wss:';
    if (url.protocol === 'http:') url.protocol = 'ws:';
    url.searchParams.set('token', grant.token);
    url.searchParams.set('clientType', 'web');
    if (revision > 0) url.searchParams.set('revision', String(revision));
    let ws;
    try {
      ws = new WebSocket(url.href);
    } catch {
      reconnect();
      return;
    }
    socket = ws;
    ws.addEventListener('open', () => {
      socketTries = 0;
      setLive('live');
      pingTimer = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ping' }));
      }, 25000);
    });
    ws.addEventListener('message', onMessage);
    ws.addEventListener('close', (event) => {
      clearInterval(pingTimer);
      if (socket === ws) socket = null;
      // 4003: the link was revoked; 4001: it expired.
      if (event.code === 4003 || event.code === 4001) {
        onUnauthorized();
        return;
      }
      reconnect();
    });
  };

  const disconnect = () => {
    stopped = true;
    clearTimeout(socketTimer);
    clearInterval(pingTimer);
    if (socket) {
      const ws = socket;
      socket = null;
      ws.close();
    }
  };

  window.addEventListener('online', () => {
    if (!socket && !stopped) {
      socketTries = 0;
      clearTimeout(socketTimer);
      connect();
    }
  });

  // ---- Settings --------------------------------------------------------------

  let settingsLoaded = false;
  let channels = null; // the last GET/PUT /channels data
  let slackRemoved = false;
  let ntfyTokenCleared = false;

  const kinds = ['webhook', 'telegram', 'slack', 'ntfy', 'webpush'];

  const fieldError = (el, text) => {
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  };

  const clearFieldErrors = () => {
    for (const el of $('channels').querySelectorAll('.field-error')) fieldError(el, '');
    for (const el of $('channels').querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    $('channels-error').hidden = true;
  };

  const eventText = (event) =>
    ({
      'session.created': t('inbox.event.created'),
      'session.completed': t('inbox.event.completed'),
      'session.expired': t('inbox.event.expired'),
      'session.cancelled': t('inbox.event.cancelled'),
      test: t('inbox.event.test'),
    })[event] || String(event || '');

  const stateText = (state) =>
    ({
      delivered: t('inbox.delivery.delivered'),
      retrying: t('inbox.delivery.retrying'),
      failed: t('inbox.delivery.failed'),
      skipped: t('inbox.delivery.skipped'),
    })[state] || String(state || '');

  const renderDeliveries = (kind, outcomes) => {
    const box = document.querySelector(`[data-deliveries="${kind}"]`);
    if (!box) return;
    const ul = box.querySelector('.delivery-list');
    ul.replaceChildren(
      ...(outcomes || []).slice(0, 10).map((o) => {
        const li = fromTemplate('delivery-template');
        const badge = li.querySelector('.badge');
        badge.dataset.status = o.state;
        badge.textContent = stateText(o.state);
        li.querySelector('.delivery-what').textContent = `${eventText(o.event)} · ${o.destination}${o.default ? ` (${t('inbox.delivery.default')})` : ''}`;
        const parts = [ago(o.at)];
        if (o.attempts > 1) parts.push(t('inbox.delivery.attempts', { count: o.attempts }));
        if (o.statusCode) parts.push(`HTTP ${o.statusCode}`);
        if (o.error) parts.push(o.error);
        li.querySelector('.delivery-detail').textContent = parts.join(' · ');
        return li;
      }),
    );
    box.hidden = ul.children.length === 0;
  };

  const webhookRow = (w = {}) => {
    const li = fromTemplate('webhook-template');
    const n = $('webhooks').children.length;
    li.dataset.id = w.id || '';
    for (const label of li.querySelectorAll('[data-for]')) {
      const input = li.querySelector(`[data-part="${label.dataset.for}"]`);
      input.id = `webhook-${n}-${label.dataset.for}-${Math.random().toString(36).slice(2, 8)}`;
      label.htmlFor = input.id;
      const error = li.querySelector(`[data-error="${label.dataset.for}"]`);
      error.id = `${input.id}-error`;
      const hint = li.querySelector(`[data-hint="${label.dataset.for}"]`);
      if (hint) hint.id = `${input.id}-hint`;
      input.setAttribute('aria-describedby', `${hint ? `${hint.id} ` : ''}${error.id}`);
    }
    li.querySelector('[data-part="url"]').value = w.url || '';
    const secret = li.querySelector('[data-part="secret"]');
    if (w.hasSecret) secret.placeholder = t('inbox.secret.kept');
    const events = w.events && w.events.length ? w.events : ['session.created', 'session.completed', 'session.expired', 'session.cancelled'];
    for (const box of li.querySelectorAll('[data-part="event"]')) box.checked = events.includes(box.value);
    li.querySelector('[data-part="includeAnswer"]').checked = !!w.includeAnswer;
    li.querySelector('[data-part="remove"]').addEventListener('click', () => {
      li.remove();
      $('webhook-add').hidden = $('webhooks').children.length >= 5;
      $('webhook-add').focus();
    });
    return li;
  };

  const sourceText = (kind) => {
    const source = (channels.sources || {})[kind];
    return source === 'default' ? t('inbox.source.default') : source === 'off' ? t('inbox.source.off') : '';
  };

  const renderChannels = () => {
    const available = channels.available || [];
    for (const fs of document.querySelectorAll('#channels [data-channel]')) {
      const kind = fs.dataset.channel;
      fs.hidden = !available.includes(kind);
      const src = fs.querySelector('.channel-source');
      src.textContent = sourceText(kind);
      src.hidden = !src.textContent;
    }
    for (const box of document.querySelectorAll('#view-settings [data-off]')) {
      box.checked = (channels.disabled || []).includes(box.dataset.off);
    }
    $('telegram-chat').value = (channels.telegram && channels.telegram.chatId) || '';
    $('ntfy-url').value = (channels.ntfy && channels.ntfy.url) || '';
    $('ntfy-token').value = '';
    $('ntfy-token').placeholder = channels.ntfy && channels.ntfy.hasToken ? t('inbox.secret.kept') : '';
    $('slack-url').value = '';
    $('slack-url').placeholder =
      channels.slack && channels.slack.hasWebhookUrl ? t('inbox.slack.kept', { host: channels.slack.host }) : 'https://hooks.slack.com/services/…';
    slackRemoved = false;
    ntfyTokenCleared = false;
    $('slack-remove').hidden = !(channels.slack && channels.slack.hasWebhookUrl);
    $('ntfy-token-clear').hidden = !(channels.ntfy && channels.ntfy.hasToken);
    $('webhooks').replaceChildren(...(channels.webhooks || []).map((w) => webhookRow(w)));
    $('webhook-add').hidden = $('webhooks').children.length >= 5;
    for (const kind of kinds) renderDeliveries(kind, (channels.recent || {})[kind]);
    renderPush();
  };

  $('webhook-add').addEventListener('click', () => {
    const row = webhookRow();
    $('webhooks').append(row);
    $('webhook-add').hidden = $('webhooks').children.length >= 5;
    row.querySelector('input').focus();
  });

  // update is the PUT /channels body the form stands for. Secrets left
  // empty are kept (secrets are write-only: the form never holds them).
  const update = () => {
    const u = { webhooks: [], disabled: [] };
    for (const li of $('webhooks').children) {
      const w = { url: li.querySelector('[data-part="url"]').value.trim() };
      if (li.dataset.id) w.id = li.dataset.id;
      const secret = li.querySelector('[data-part="secret"]').value.trim();
      if (secret) w.secret = secret;
      w.events = [...li.querySelectorAll('[data-part="event"]')].filter((b) => b.checked).map((b) => b.value);
      w.includeAnswer = li.querySelector('[data-part="includeAnswer"]').checked;
      u.webhooks.push(w);
    }
    const chat = $('telegram-chat').value.trim();
    if (chat) u.telegram = { chatId: chat };
    const slack = $('slack-url').value.trim();
    if (slack) u.slack = { webhookUrl: slack };
    else if (channels.slack && channels.slack.hasWebhookUrl && !slackRemoved) u.slack = {};
    const ntfyURL = $('ntfy-url').value.trim();
    if (ntfyURL) {
      u.ntfy = { url: ntfyURL };
      const token = $('ntfy-token').value.trim();
      if (token) u.ntfy.token = token;
      else if (ntfyTokenCleared) u.ntfy.token = '';
    }
    for (const box of document.querySelectorAll('#view-settings [data-off]')) if (box.checked) u.disabled.push(box.dataset.off);
    return u;
  };

  // showFieldProblem puts a refusal next to its field: "webhooks[1].url",
  // "telegram.chatId", "ntfy.token", …
  const showFieldProblem = (err) => {
    const m = /^webhooks\[(\d+)\](?:\.(url|secret|events))?/.exec(err.field);
    let error = null;
    let input = null;
    if (m) {
      const li = $('webhooks').children[Number(m[1])];
      const part = m[2] || 'url';
      if (li) {
        error = li.querySelector(`[data-error="${part}"]`);
        input = li.querySelector(part === 'events' ? '[data-part="event"]' : `[data-part="${part}"]`);
      }
    } else {
      input = document.querySelector(`#channels [data-field="${err.field}"]`);
      if (input) error = $(`${input.id}-error`);
    }
    const text = `${t('inbox.field.invalid')} ${err.message}`.trim();
    if (error) {
      fieldError(error, text);
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      }
    }
    $('channels-error-text').textContent = error ? t('inbox.channels.seeField') : text;
    $('channels-error').hidden = false;
  };

  $('channels').addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFieldErrors();
    const save = $('channels-save');
    save.setAttribute('aria-disabled', 'true');
    $('channels-saved').textContent = '';
    try {
      channels = await request('PUT', api('/channels'), update());
      renderChannels();
      $('channels-saved').textContent = t('inbox.channels.saved');
    } catch (err) {
      if (err.code === 'INVALID_REQUEST') showFieldProblem(err);
      else {
        $('channels-error-text').textContent = errorText(err);
        $('channels-error').hidden = false;
      }
    } finally {
      save.removeAttribute('aria-disabled');
    }
  });

  // Secrets cannot be shown, so clearing one is a button of its own.
  const clearer = (input, id, label, onClear) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.id = id;
    button.hidden = true;
    button.className = 'button button-quiet button-small secret-clear';
    button.textContent = label;
    button.addEventListener('click', () => {
      onClear();
      input.value = '';
      input.placeholder = t('inbox.secret.cleared');
    });
    input.insertAdjacentElement('afterend', button);
  };
  clearer($('slack-url'), 'slack-remove', t('inbox.slack.remove'), () => {
    slackRemoved = true;
  });
  clearer($('ntfy-token'), 'ntfy-token-clear', t('inbox.ntfy.clearToken'), () => {
    ntfyTokenCleared = true;
  });

  const runTest = async (kind, result) => {
    result.textContent = t('inbox.channels.testing');
    try {
      const res = await request('POST', api('/channels/test'), { channel: kind });
      const outs = res.outcomes || [];
      if (outs.length === 0) result.textContent = t('inbox.channels.testNone');
      else {
        result.textContent = outs
          .map((o) => (o.state === 'delivered' ? t('inbox.channels.testOk', { to: o.destination }) : t('inbox.channels.testFailed', { to: o.destination, error: o.error || `HTTP ${o.statusCode || '?'}` })))
          .join(' ');
      }
      channels = await request('GET', api('/channels'));
      for (const k of kinds) renderDeliveries(k, (channels.recent || {})[k]);
    } catch (err) {
      result.textContent = err.code === 'SERVICE_UNAVAILABLE' ? t('inbox.channels.noDispatcher') : `${errorText(err)} ${err.message}`.trim();
    }
  };
  for (const button of document.querySelectorAll('#view-settings [data-test]')) {
    button.addEventListener('click', () => runTest(button.dataset.test, document.querySelector(`[data-test-result="${button.dataset.test}"]`)));
  }

  // ---- Web Push on this device -------------------------------------------------

  const pushSupported = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
  let registration = null;

  const base64url = (s) => {
    const b64 = (s + '='.repeat((4 - (s.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
    const raw = atob(b64);
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  };

  const pushError = (text) => fieldError($('push-error'), text);
  const pushResult = (text) => {
    $('push-result').textContent = text;
    $('push-result').hidden = !text;
  };

  const renderPush = async () => {
    const enable = $('push-enable');
    const disable = $('push-disable');
    const test = $('push-test');
    const available = !channels || (channels.available || []).includes('webpush');
    if (!available || !pushSupported()) {
      $('push-text').textContent = available ? t('inbox.push.unsupported') : t('inbox.push.unavailable');
      enable.hidden = disable.hidden = test.hidden = true;
      return;
    }
    const sub = registration ? await registration.pushManager.getSubscription().catch(() => null) : null;
    const devices = channels ? (channels.webPush || []).length : 0;
    if (sub && Notification.permission === 'granted') {
      $('push-text').textContent = t('inbox.push.on', { count: devices });
      enable.hidden = true;
      disable.hidden = false;
    } else {
      $('push-text').textContent = Notification.permission === 'denied' ? t('inbox.push.blocked') : t('inbox.push.body');
      enable.hidden = false;
      disable.hidden = true;
    }
    test.hidden = devices === 0;
  };

  // savePushSubscription stores a browser's subscription for this principal.
  const savePushSubscription = (sub) => request('POST', api('/push/subscriptions'), typeof sub.toJSON === 'function' ? sub.toJSON() : sub);

  $('push-enable').addEventListener('click', async () => {
    pushError('');
    pushResult('');
    const button = $('push-enable');
    button.setAttribute('aria-disabled', 'true');
    try {
      const permission = await Notification.requestPermission();
      if (permission !== 'granted') {
        pushError(t('inbox.push.blocked'));
        return;
      }
      if (!registration) registration = await navigator.serviceWorker.register(data.serviceWorker, { scope: data.scope });
      const ready = await navigator.serviceWorker.ready;
      const { publicKey } = await request('GET', api('/push/vapid-public-key'));
      let sub;
      try {
        // A push service that never answers (no network, a blocked
        // vendor) must not leave the button spinning for ever.
        let timer = 0;
        const slow = new Promise((_, fail) => {
          timer = setTimeout(() => fail(new Error(t('inbox.push.noAnswer'))), 15000);
        });
        try {
          sub = await Promise.race([ready.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64url(publicKey) }), slow]);
        } finally {
          clearTimeout(timer);
        }
      } catch (err) {
        pushError(t('inbox.push.failed', { reason: String((err && err.message) || err) }));
        return;
      }
      await savePushSubscription(sub);
      channels = await request('GET', api('/channels'));
      pushResult(t('inbox.push.enabled'));
      renderPush();
    } catch (err) {
      pushError(`${errorText(err)} ${err.message || ''}`.trim());
    } finally {
      button.removeAttribute('aria-disabled');
    }
  });

  $('push-disable').addEventListener('click', async () => {
    pushError('');
    pushResult('');
    try {
      const sub = registration && (await registration.pushManager.getSubscription());
      if (sub) {
        await request('DELETE', api('/push/subscriptions'), { endpoint: sub.endpoint });
        await sub.unsubscribe();
      }
      channels = await request('GET', api('/channels'));
      pushResult(t('inbox.push.disabled'));
      renderPush();
    } catch (err) {
      pushError(errorText(err));
    }
  });

  $('push-test').addEventListener('click', () => runTest('webpush', $('push-result')).then(() => ($('push-result').hidden = false)));

  // ---- Inbox links -------------------------------------------------------------

  let me = null;

  const renderLinks = (links) => {
    $('link-list').replaceChildren(
      ...links.map((l) => {
        const li = fromTemplate('link-template');
        const current = me && me.link && me.link.id === l.id;
        li.querySelector('.link-name').textContent = (l.name || t('inbox.links.unnamed')) + (current ? ` · ${t('inbox.links.this')}` : '');
        const parts = [t('inbox.links.created', { when: dateTime(l.createdAt) }), t('inbox.links.expires', { when: dateTime(l.expiresAt) })];
        parts.push(l.lastUsedAt ? t('inbox.links.used', { when: ago(l.lastUsedAt) }) : t('inbox.links.unused'));
        li.querySelector('.link-meta').textContent = parts.join(' · ');
        const button = li.querySelector('button');
        button.setAttribute('aria-label', t('inbox.links.revokeNamed', { name: l.name || t('inbox.links.unnamed') }));
        button.addEventListener('click', async () => {
          if (!window.confirm(current ? t('inbox.links.confirmThis') : t('inbox.links.confirm'))) return;
          fieldError($('links-error'), '');
          try {
            await request('DELETE', api(`/links/${encodeURIComponent(l.id)}`));
            if (current) {
              signedOut(t('inbox.signin.revoked'));
              return;
            }
            li.remove();
          } catch (err) {
            fieldError($('links-error'), errorText(err));
          }
        });
        return li;
      }),
    );
  };

  const loadSettings = async () => {
    if (settingsLoaded) return;
    settingsLoaded = true;
    try {
      const [ch, links] = await Promise.all([request('GET', api('/channels')), request('GET', api('/links'))]);
      channels = ch;
      renderChannels();
      renderLinks(links.items || []);
    } catch (err) {
      settingsLoaded = false;
      showBanner(errorText(err));
    }
  };

  $('sign-out').addEventListener('click', async () => {
    try {
      const sub = registration && (await registration.pushManager.getSubscription());
      if (sub) {
        await request('DELETE', api('/push/subscriptions'), { endpoint: sub.endpoint }).catch(() => {});
        await sub.unsubscribe().catch(() => {});
      }
      await request('DELETE', data.sessionUrl);
    } catch (err) {
      showBanner(errorText(err));
      return;
    }
    signedOut(t('inbox.signin.signedOut'));
  });

  // ---- Starting ----------------------------------------------------------------

  const signedOut = (text) => {
    disconnect();
    closeOpen();
    items.clear();
    $('list').replaceChildren();
    showSignin(text || t('inbox.signin.expired'));
  };
  onUnauthorized = () => {
    if (me) signedOut();
  };

  const registerWorker = async () => {
    if (!('serviceWorker' in navigator)) return;
    try {
      registration = await navigator.serviceWorker.register(data.serviceWorker, { scope: data.scope });
    } catch {
      registration = null; // the inbox works without it, only not offline
    }
    navigator.serviceWorker.addEventListener('message', (event) => {
      const msg = event.data || {};
      if (msg.type === 'open' && msg.sessionId && me) {
        showTab('questions');
        open(msg.sessionId, true);
      }
    });
  };

  const openFromHash = () => {
    const id = new URLSearchParams(window.location.hash.slice(1)).get('s');
    if (!id) return '';
    history.replaceState(null, '', window.location.pathname + window.location.search);
    return id;
  };

  window.addEventListener('hashchange', () => {
    const id = openFromHash();
    if (id && me) {
      showTab('questions');
      open(id, true);
    }
  });

  const start = async () => {
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    const token = fragment.get('t');
    let first = fragment.get('s') || '';
    // The token leaves the address bar and the history before anything else
    // happens, whatever happens next.
    if (token || first) history.replaceState(null, '', window.location.pathname + window.location.search);
    registerWorker();
    if (token) {
      try {
        await request('POST', data.sessionUrl, { token });
      } catch (err) {
        showSignin(err.status === 401 ? t('inbox.signin.invalid') : errorText(err));
        return;
      }
    }
    try {
      me = await request('GET', api('/me'));
    } catch (err) {
      if (err.status === 401) showSignin(token ? t('inbox.signin.notKept') : t('inbox.signin.body'));
      else {
        showSignin(err.code === 'NETWORK' ? t('inbox.signin.offline') : errorText(err));
        window.addEventListener('online', () => window.location.reload(), { once: true });
      }
      return;
    }
    if (me.serverTime) clockOffset = Date.parse(me.serverTime) - Date.now() || 0;
    $('signin').hidden = true;
    $('tabs').hidden = false;
    showTab('questions');
    await loadPage();
    connect();
    if (first) open(first, true);
    first = '';
  };

  start();
})();
