// feedbackd feedback page.
//
// Without this script the page is a plain form that posts and reloads. With
// it the page submits as JSON without a reload, counts characters, keeps a
// countdown to the deadline, and follows the session live (WebSocket, else
// polling) so that it changes when the question is answered elsewhere,
// expires or is cancelled. Every text it shows comes from the translations
// the server put in <script type="application/json" id="page-data">; it
// never builds markup from data (textContent only).
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const dataEl = $('page-data');
  if (!dataEl) return;
  const cfg = JSON.parse(dataEl.textContent);
  const i18n = cfg.i18n || {};
  const max = cfg.maxFreeText || 1000;

  // t returns the translation of key with its {name} placeholders filled.
  const t = (key, args = {}) => {
    let text = Object.prototype.hasOwnProperty.call(i18n, key) ? i18n[key] : key;
    for (const [name, value] of Object.entries(args)) {
      text = text.split(`{${name}}`).join(String(value));
    }
    return text;
  };

  // The browser's clock may be off; the server's is the one that counts.
  const clockOffset = (Date.parse(cfg.serverNow) || Date.now()) - Date.now();
  const now = () => Date.now() + clockOffset;
  let expiresAt = Date.parse(cfg.expiresAt);

  const formatTime = (iso) => {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return '';
    try {
      return new Intl.DateTimeFormat(cfg.lang === 'zh' ? 'zh-CN' : 'en', {
        dateStyle: 'medium',
        timeStyle: 'short',
      }).format(date);
    } catch {
      return date.toLocaleString();
    }
  };

  const setSentAt = (iso) => {
    const el = $('sent-at');
    if (!el || !iso) return;
    el.dateTime = iso;
    el.textContent = t('view.submitted.at', { time: formatTime(iso) });
  };

  // The server wrote times in UTC; show them in the reader's own zone.
  for (const el of document.querySelectorAll('time.local-time')) {
    if (el.dateTime) el.textContent = t(el.dataset.key, { time: formatTime(el.dateTime) });
  }

  let state = cfg.state;
  if (state !== 'pending') return;

  const card = $('card');
  const form = $('answer-form');
  const textarea = $('free-text');
  const counter = $('counter');
  const errorBox = $('form-error');
  const errorText = $('form-error-text');
  const submitButton = $('submit');
  const shortcut = $('shortcut');
  const countdown = $('countdown');
  const countdownText = $('countdown-text');

  // ---- Views -------------------------------------------------------------

  let closed = false; // the form no longer accepts an answer
  let sending = false;
  let deferredStatus = ''; // a live status that arrived while sending

  const showView = (view, focus) => {
    for (const section of document.querySelectorAll('[data-view]')) {
      section.hidden = section.dataset.view !== view;
    }
    card.dataset.state = view;
    state = view;
    const section = document.querySelector(`[data-view="${view}"]`);
    const heading = section && section.querySelector('h2');
    if (focus && heading) {
      heading.focus();
    } else if (section) {
      // The news sits above the question; someone scrolled down to the form
      // must still see it.
      const still = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
      section.scrollIntoView({ block: 'start', behavior: still ? 'auto' : 'smooth' });
    }
  };

  // finish closes the form and shows view. A person's unsent text stays
  // readable (and copyable) when the question closes under them.
  const finish = (view, focus) => {
    if (!closed) {
      closed = true;
      stopLive();
      stopCountdown();
      if (countdown) countdown.remove();
      if (view === 'submitted' || textarea.value.trim() === '') {
        form.remove();
      } else {
        for (const el of form.elements) el.disabled = el !== textarea;
        textarea.readOnly = true;
        form.classList.add('is-closed');
        form.querySelector('.actions').remove();
        errorBox.hidden = true;
      }
    }
    showView(view, focus);
  };

  const viewForStatus = (status) =>
    ({ completed: 'completed', expired: 'expired', cancelled: 'cancelled' })[status] || 'gone';

  // applyStatus reacts to what the server says the session is now.
  const applyStatus = (status, newExpiresAt) => {
    const parsed = Date.parse(newExpiresAt || '');
    if (!Number.isNaN(parsed)) expiresAt = parsed;
    if (!status || status === 'pending') return;
    if (sending) {
      // Our own submit is in flight; its answer decides what to show.
      deferredStatus = status;
      return;
    }
    if (state === 'submitted') return;
    if (closed && state === viewForStatus(status)) return;
    finish(viewForStatus(status), false);
  };

  // ---- Character counter --------------------------------------------------

  // Counted in code points, as the server counts characters (not UTF-16 units).
  const charCount = (text) => {
    let n = 0;
    for (const _ of text) n++;
    return n;
  };

  const updateCounter = () => {
    const n = charCount(textarea.value);
    counter.textContent = t('form.counter', { count: n, max });
    counter.classList.toggle('is-over', n > max);
    if (n > max) textarea.setAttribute('aria-invalid', 'true');
    else textarea.removeAttribute('aria-invalid');
  };
  textarea.addEventListener('input', updateCounter);
  updateCounter();

  // ---- Submitting ----------------------------------------------------------

  const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || '');
  shortcut.textContent = t('form.shortcut', { keys: isMac ? '⌘ + Enter' : 'Ctrl + Enter' });
  shortcut.hidden = false;
  textarea.setAttribute('aria-keyshortcuts', isMac ? 'Meta+Enter' : 'Control+Enter');

  form.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || !(event.ctrlKey || event.metaKey) || event.isComposing) return;
    event.preventDefault();
    if (typeof form.requestSubmit === 'function') form.requestSubmit();
    else submitButton.click();
  });

  const showError = (message, focusTarget) => {
    errorText.textContent = message;
    errorBox.hidden = false;
    if (focusTarget) focusTarget.focus();
  };

  const errorMessage = (code, field) => {
    for (const key of [`error.${code}.${field}`, `error.${code}`]) {
      if (code && Object.prototype.hasOwnProperty.call(i18n, key)) return t(key, { max });
    }
    return t('error.generic');
  };

  const setSending = (on) => {
    sending = on;
    submitButton.setAttribute('aria-disabled', String(on));
    submitButton.setAttribute('aria-busy', String(on));
    submitButton.textContent = on ? t('form.sending') : t('form.submit');
  };

  const showSubmitted = (selected, text, submittedAt) => {
    const list = $('sent-options');
    list.replaceChildren(
      ...selected.map((option) => {
        const item = document.createElement('li');
        item.textContent = option;
        return item;
      }),
    );
    $('sent-options-row').hidden = selected.length === 0;
    $('sent-text').textContent = text.trim();
    $('sent-text-row').hidden = text.trim() === '';
    setSentAt(submittedAt || new Date(now()).toISOString());
    $('sent').hidden = false;
    finish('submitted', true);
  };

  const finishedBy = {
    ALREADY_SUBMITTED: 'completed',
    SESSION_EXPIRED: 'expired',
    SESSION_CANCELLED: 'cancelled',
    SESSION_NOT_FOUND: 'gone',
  };

  form.addEventListener('submit', async (event) => {
    if (!cfg.submitUrl) return; // let the browser post the plain form
    event.preventDefault();
    if (sending || closed) return;

    const boxes = [...form.querySelectorAll('input[name="selectedOptions"]')];
    const selected = boxes.filter((box) => box.checked).map((box) => box.value);
    const text = textarea.value;
    const n = charCount(text);
    if (selected.length === 0 && text.trim() === '') {
      showError(t('error.empty'), boxes[0] || textarea);
      return;
    }
    if (n > max) {
      showError(t('error.tooLong', { over: n - max, max }), textarea);
      return;
    }
    errorBox.hidden = true;

    const body = {};
    if (selected.length > 0) body.selectedOptions = selected;
    if (text.trim() !== '') body.freeText = text;

    setSending(true);
    deferredStatus = '';
    let response;
    let payload = null;
    try {
      response = await fetch(cfg.submitUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
      payload = await response.json().catch(() => null);
    } catch {
      setSending(false);
      showError(t('error.NETWORK'));
      return;
    }
    setSending(false);

    if (response.ok && payload && payload.success) {
      showSubmitted(selected, text, payload.data && payload.data.submittedAt);
      return;
    }
    const error = (payload && payload.error) || {};
    let code = error.code || '';
    if (!code && response.status === 429) code = 'RATE_LIMITED';
    if (!code && response.status >= 500) code = 'SERVICE_UNAVAILABLE';
    if (finishedBy[code]) {
      finish(finishedBy[code], true);
      return;
    }
    if (deferredStatus) {
      applyStatus(deferredStatus);
      if (closed) return;
    }
    const field = String((error.details && error.details.field) || '').split('[')[0];
    showError(errorMessage(code, field), field === 'freeText' ? textarea : null);
  });

  // ---- Countdown -------------------------------------------------------------

  let countdownTimer = 0;

  const formatLeft = (ms) => {
    const total = Math.max(0, Math.ceil(ms / 1000));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = String(total % 60).padStart(2, '0');
    return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
  };

  const tick = () => {
    const left = expiresAt - now();
    if (Number.isNaN(left)) return;
    if (left <= 0) {
      countdownText.textContent = t('countdown.ended');
      if (sending) {
        countdownTimer = setTimeout(tick, 500);
        return;
      }
      // The deadline is the server's rule too; show it now, then ask the
      // server once in case an answer beat the clock.
      finish('expired', false);
      checkOnce();
      return;
    }
    countdownText.textContent = t('countdown.left', { time: formatLeft(left) });
    countdown.classList.toggle('is-urgent', left < 60000);
    countdownTimer = setTimeout(tick, (left % 1000) + 20);
  };

  const stopCountdown = () => clearTimeout(countdownTimer);

  // ---- Live updates ------------------------------------------------------------

  let socket = null;
  let socketTries = 0;
  let pingTimer = 0;
  let polling = false;
  let pollTimer = 0;
  let pollDelay = 3000;
  const pollBase = 3000;
  const pollMax = 30000;

  const fetchState = async () => {
    const response = await fetch(cfg.stateUrl, {
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store',
    });
    if (response.status === 404) return { status: 'gone' };
    if (!response.ok) throw new Error(`state: HTTP ${response.status}`);
    const body = await response.json();
    return body && body.data && typeof body.data === 'object' ? body.data : body;
  };

  const poll = async () => {
    if (!polling) return;
    if (!document.hidden) {
      try {
        const current = await fetchState();
        pollDelay = pollBase;
        applyStatus(current.status, current.expiresAt);
      } catch {
        pollDelay = Math.min(pollDelay * 2, pollMax);
      }
    }
    if (polling) pollTimer = setTimeout(poll, pollDelay);
  };

  const startPolling = () => {
    if (polling || closed || !cfg.stateUrl) return;
    polling = true;
    pollDelay = pollBase;
    poll();
  };

  const stopPolling = () => {
    polling = false;
    clearTimeout(pollTimer);
  };

  const checkOnce = async () => {
    if (!cfg.stateUrl) return;
    try {
      const current = await fetchState();
      if (current.status && current.status !== 'pending' && state !== 'submitted') {
        showView(viewForStatus(current.status), false);
      }
    } catch {
      // The expired view stands; nothing better is known.
    }
  };

  const onSocketMessage = (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    const data = (message && message.data) || {};
    if (data.sessionId && cfg.sessionId && data.sessionId !== cfg.sessionId) return;
    switch (message.type) {
      case 'connection_established':
        applyStatus(data.status);
        break;
      case 'session_status_changed':
        applyStatus(data.newStatus);
        break;
      case 'feedback_submitted':
        applyStatus('completed');
        break;
      case 'session_expired':
        applyStatus('expired');
        break;
      default:
        break;
    }
  };

  const connect = () => {
    if (closed) return;
    let url;
    try {
      url = new URL(cfg.wsUrl, window.location.href);
    } catch {
      startPolling();
      return;
    }
    if (url.protocol === 'https:') url.protocol = 'wss:';
    if (url.protocol === 'http:') url.protocol = 'ws:';
    url.searchParams.set('token', cfg.wsToken);
    if (!url.searchParams.has('clientType')) url.searchParams.set('clientType', 'web');
    try {
      socket = new WebSocket(url.href);
    } catch {
      startPolling();
      return;
    }
    socket.addEventListener('open', () => {
      socketTries = 0;
      stopPolling();
      pingTimer = setInterval(() => {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'ping' }));
      }, 25000);
    });
    socket.addEventListener('message', onSocketMessage);
    socket.addEventListener('close', (event) => {
      clearInterval(pingTimer);
      socket = null;
      if (closed) return;
      // 4001: the page's token ran out; it will not open a socket again.
      if (event.code === 4001) socketTries = 5;
      // Poll while the socket is down; it may come back (the token is short
      // lived, so only a few times).
      startPolling();
      if (socketTries < 5) {
        setTimeout(connect, Math.min(pollMax, 1000 * 2 ** socketTries));
        socketTries++;
      }
    });
  };

  const stopLive = () => {
    stopPolling();
    clearInterval(pingTimer);
    if (socket) {
      const s = socket;
      socket = null;
      s.close();
    }
  };

  document.addEventListener('visibilitychange', () => {
    if (document.hidden || closed) return;
    clearTimeout(countdownTimer);
    tick();
    if (polling) {
      clearTimeout(pollTimer);
      poll();
    }
  });
  window.addEventListener('online', () => {
    if (polling) {
      clearTimeout(pollTimer);
      pollDelay = pollBase;
      poll();
    }
  });

  tick();
  if (!closed) {
    if (cfg.wsUrl && cfg.wsToken && 'WebSocket' in window) connect();
    else startPolling();
  }
})();
