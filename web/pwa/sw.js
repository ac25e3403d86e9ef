// feedbackd inbox service worker (docs/inbox.md). The server puts SHELL
// (the inbox page and its files), SHELL_VERSION, INBOX and ICON before
// this, so the script changes, and browsers update it, whenever the shell
// does.
//
// It keeps the shell for offline use (the inbox then says it is offline;
// nothing of the person's is cached), and turns Web Push messages into
// notifications. The dispatcher sends two kinds (notifier/dispatch/webpush):
//   {type:"question", sessionId, tag, title, body, url, expiresAt}: show it;
//   {type:"close", sessionId, tag, status}: close the notification of tag.
// A click opens the question in the inbox (an inbox already open is told to
// open it; else a new window opens INBOX#s=<id>). When the push service
// changes the subscription, the new one is stored for the same principal.
/* global SHELL, SHELL_VERSION, INBOX, ICON */
'use strict';

const CACHE = `feedbackd-inbox-${SHELL_VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { credentials: 'same-origin', cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('feedbackd-inbox-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// The inbox page comes from the network while there is one, so a person
// always gets today's shell; offline, the kept one. The shell's files have
// content-hashed names and never change, so they come from the cache.
// Everything else (the inbox's API, the WebSocket, pages) is left alone.
self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === 'navigate' && url.pathname === INBOX) {
    event.respondWith(
      fetch(req).catch(() => caches.open(CACHE).then((cache) => cache.match(INBOX)).then((hit) => hit || Response.error())),
    );
    return;
  }
  if (SHELL.includes(url.pathname) && url.pathname !== INBOX) {
    event.respondWith(caches.open(CACHE).then((cache) => cache.match(url.pathname).then((hit) => hit || fetch(req))));
  }
});

const closeTagged = async (tag) => {
  const open = await self.registration.getNotifications({ tag });
  for (const n of open) n.close();
};

// tell passes a message to every inbox window, so an open inbox can react.
const tell = async (message) => {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const w of windows) w.postMessage(message);
};

self.addEventListener('push', (event) => {
  let msg = {};
  try {
    msg = event.data ? event.data.json() : {};
  } catch {
    msg = {};
  }
  const tag = typeof msg.tag === 'string' && msg.tag ? msg.tag : `feedbackd-${msg.sessionId || 'message'}`;
  if (msg.type === 'close') {
    event.waitUntil(closeTagged(tag).then(() => tell({ type: 'closed', sessionId: msg.sessionId, status: msg.status })));
    return;
  }
  const title = typeof msg.title === 'string' && msg.title ? msg.title : 'feedbackd';
  event.waitUntil(
    self.registration
      .showNotification(title, {
        body: typeof msg.body === 'string' ? msg.body : '',
        tag,
        renotify: true,
        requireInteraction: true,
        icon: ICON,
        badge: ICON,
        timestamp: Date.now(),
        data: { sessionId: msg.sessionId || '', url: msg.url || '' },
      })
      .then(() => tell({ type: 'question', sessionId: msg.sessionId })),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const id = (event.notification.data && event.notification.data.sessionId) || '';
  // The dispatcher's test notification names no real session.
  const real = /^[0-9a-f-]{36}$/.test(id);
  const target = real ? `${INBOX}#s=${id}` : INBOX;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const inbox = windows.find((w) => new URL(w.url).pathname === INBOX);
      if (inbox) {
        if (real) inbox.postMessage({ type: 'open', sessionId: id });
        try {
          await inbox.focus();
        } catch {
          // Focus needs a user gesture some browsers do not pass on.
        }
        return;
      }
      await self.clients.openWindow(target);
    })(),
  );
});

// The push service replaced (or dropped) the subscription: subscribe again
// with the cluster's key, store the new one and forget the old. The
// requests carry the inbox's session cookie, as the page's do.
self.addEventListener('pushsubscriptionchange', (event) => {
  const api = `${INBOX}/api`;
  const send = (method, path, body) =>
    fetch(api + path, {
      method,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  event.waitUntil(
    (async () => {
      let sub = event.newSubscription;
      if (!sub) {
        const res = await fetch(`${api}/push/vapid-public-key`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
        const body = await res.json();
        const key = body.data.publicKey;
        const b64 = (key + '='.repeat((4 - (key.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
        const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        sub = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: raw });
      }
      await send('POST', '/push/subscriptions', sub.toJSON());
      if (event.oldSubscription && event.oldSubscription.endpoint !== sub.endpoint) {
        await send('DELETE', '/push/subscriptions', { endpoint: event.oldSubscription.endpoint });
      }
    })(),
  );
});
