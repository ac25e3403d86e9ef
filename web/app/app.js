// feedbackd MCP App: the question form inside an MCP host's conversation
// (docs/mcp.md, "MCP Apps").
//
// The host renders this document in a sandboxed iframe and talks to it with
// JSON-RPC over postMessage, the MCP Apps protocol (extension
// io.modelcontextprotocol/ui, version 2026-01-26): the app asks
// ui/initialize, says ui/notifications/initialized, then hears the tool
// call's arguments (ui/notifications/tool-input) and, when the call ends, its
// result (ui/notifications/tool-result). Everything else goes through the
// host as tools/call to the app-only tools of edge/mcp/apps.go:
//
//   - read_feedback_for_app finds the session of this tool call (by its
//     arguments while the call waits, by sessionId once a result names it)
//     and renders the question exactly as the feedback page does; it also
//     waits, server-side, for the session to change;
//   - submit_feedback_from_app answers it, through the same compare-and-swap
//     as every other surface;
//   - read_feedback_image_for_app brings the agent's images, shown as data:
//     URLs.
//
// feedback.js, inlined before this script, runs over the rendered question as
// it does on the page, with a transport built from those tools. Nothing is
// fetched: the host is the app's only way out. Texts come from the server's
// translations; markup is only ever the server's own rendering.
(() => {
  'use strict';

  const PROTOCOL_VERSION = '2026-01-26';
  const TOOL_READ = 'read_feedback_for_app';
  const TOOL_SUBMIT = 'submit_feedback_from_app';
  const TOOL_IMAGE = 'read_feedback_image_for_app';
  // How long one watching call waits on the server for the session to
  // change; well below the hosts' usual 60 s limit on a tool call.
  const WATCH_SECONDS = 25;
  // How long the app looks for the session of a call that has only just
  // started (the host sends the arguments to the app and the call to the
  // server at the same time).
  const LOCATE_FOR_MS = 30000;
  const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];

  const data = JSON.parse(document.getElementById('app-data').textContent);
  const statusEl = document.getElementById('app-status');
  const root = document.getElementById('app-question');
  const html = document.documentElement;

  let lang = 'en';
  const t = (key, args = {}) => {
    const texts = data.i18n[lang] || data.i18n.en || {};
    let text = Object.prototype.hasOwnProperty.call(texts, key) ? texts[key] : key;
    for (const [name, value] of Object.entries(args)) text = text.split(`{${name}}`).join(String(value));
    return text;
  };
  const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

  // ---- JSON-RPC over postMessage ------------------------------------------

  let nextId = 1;
  const waiting = new Map(); // request id → {ok, fail}
  const notifications = new Map(); // method → handler
  let tornDown = false;

  // The host's origin is not known to a sandboxed document (it may be an
  // opaque origin behind a proxy); only the parent window is listened to.
  const post = (message) => window.parent.postMessage(message, '*');

  const request = (method, params) =>
    new Promise((ok, fail) => {
      const id = nextId++;
      waiting.set(id, { ok, fail });
      post({ jsonrpc: '2.0', id, method, params });
    });

  const notify = (method, params) => post({ jsonrpc: '2.0', method, params });

  const answer = (id, result) => post({ jsonrpc: '2.0', id, result });

  window.addEventListener('message', (event) => {
    if (event.source !== window.parent) return;
    const msg = event.data;
    if (!msg || typeof msg !== 'object' || msg.jsonrpc !== '2.0') return;
    if (typeof msg.method !== 'string') {
      const w = waiting.get(msg.id);
      if (!w) return;
      waiting.delete(msg.id);
      if (msg.error) w.fail(new Error(String((msg.error && msg.error.message) || 'the host refused')));
      else w.ok(msg.result || {});
      return;
    }
    if (msg.id !== undefined && msg.id !== null) {
      switch (msg.method) {
        case 'ui/resource-teardown':
          teardown();
          answer(msg.id, {});
          break;
        case 'ping':
          answer(msg.id, {});
          break;
        default:
          post({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: `method not found: ${msg.method}` } });
      }
      return;
    }
    const handler = notifications.get(msg.method);
    if (handler) handler(msg.params || {});
  });

  // callTool calls one of this server's tools through the host; a refusal by
  // the host or a transport failure throws.
  const callTool = (name, args) => request('tools/call', { name, arguments: args });

  // toolError is the error a tool result carries, or null: the code, field
  // and message the app-only tools put in _meta, else the text.
  const toolError = (result) => {
    if (!result || !result.isError) return null;
    const detail = result._meta && result._meta['feedbackd/error'];
    if (detail && typeof detail.code === 'string') return detail;
    const text = ((result.content || []).find((c) => c && c.type === 'text') || {}).text || '';
    return { code: '', message: text };
  };

  // ---- Host context ----------------------------------------------------------

  let hostCapabilities = {};

  const applyContext = (ctx) => {
    if (ctx.theme === 'light' || ctx.theme === 'dark') html.dataset.theme = ctx.theme;
    if (typeof ctx.locale === 'string' && !rendered) {
      lang = /^zh\b/i.test(ctx.locale) ? 'zh' : 'en';
      html.lang = lang === 'zh' ? 'zh-CN' : 'en';
      if (!statusEl.hidden && !statusEl.classList.contains('is-error')) statusEl.textContent = t('app.loading');
    }
    // The host's own fonts and the like (McpUiStyleVariableKey); the app's
    // colours stay the page's, which are checked for contrast.
    const vars = ctx.styles && ctx.styles.variables;
    if (vars && typeof vars === 'object') {
      for (const [name, value] of Object.entries(vars)) {
        if (/^--(font|border-radius)-[a-z0-9-]+$/.test(name) && typeof value === 'string') html.style.setProperty(name, value);
      }
    }
  };

  // ---- Size ------------------------------------------------------------------

  let lastHeight = 0;
  const reportSize = () => {
    if (tornDown) return;
    const height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height === lastHeight) return;
    lastHeight = height;
    notify('ui/notifications/size-changed', { height });
  };
  const resizeObserver = 'ResizeObserver' in window ? new ResizeObserver(reportSize) : null;

  // ---- Showing things ----------------------------------------------------------

  const showStatus = (text, isError) => {
    statusEl.textContent = text;
    statusEl.classList.toggle('is-error', Boolean(isError));
    statusEl.hidden = false;
  };

  let sessionId = '';
  let feedbackUrl = '';
  let lastView = null; // the last read of the session
  let rendered = false;

  // showAnswer adds the owner's view of a finished answer under the notice
  // that says the question was answered.
  const showAnswer = (view) => {
    const notice = root.querySelector('[data-view="completed"] .notice-body');
    if (!notice || !view || !view.answer || notice.querySelector('.app-answer')) return;
    const box = document.createElement('div');
    box.className = 'sent app-answer';
    const title = document.createElement('h3');
    title.textContent = t('app.answer');
    const text = document.createElement('p');
    text.className = 'sent-text';
    text.textContent = view.answer.combinedFeedback || '';
    box.append(title, text);
    notice.append(box);
  };

  // loadImages shows the agent's images: the app may not load URLs, so each
  // comes through the host as image content and is shown as a data: URL.
  const loadImages = () => {
    for (const button of root.querySelectorAll('button.shot[data-image-id]')) {
      const img = button.querySelector('img');
      button.addEventListener('click', () => {
        const open = button.getAttribute('aria-expanded') !== 'true';
        button.setAttribute('aria-expanded', String(open));
        button.closest('li').classList.toggle('is-open', open);
      });
      callTool(TOOL_IMAGE, { sessionId, imageId: button.dataset.imageId })
        .then((result) => {
          const block = !toolError(result) && (result.content || []).find((c) => c && c.type === 'image');
          if (block && IMAGE_TYPES.includes(block.mimeType) && typeof block.data === 'string') {
            img.src = `data:${block.mimeType};base64,${block.data}`;
          }
        })
        .catch(() => {
          // The thumbnail stays empty; its name is still said.
        });
    }
  };

  // addOpenLink offers the page itself, when the host can open links.
  const addOpenLink = () => {
    if (!hostCapabilities.openLinks || !feedbackUrl || root.querySelector('.app-link')) return;
    const card = root.querySelector('#card');
    if (!card) return;
    const row = document.createElement('p');
    row.className = 'app-link';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'button button-quiet button-small';
    button.textContent = t('app.openLink');
    button.addEventListener('click', () => {
      request('ui/open-link', { url: feedbackUrl }).catch(() => {});
    });
    row.append(button);
    card.append(row);
  };

  const readDataURL = (file) =>
    new Promise((ok, fail) => {
      const reader = new FileReader();
      reader.onload = () => ok(String(reader.result));
      reader.onerror = () => fail(reader.error);
      reader.readAsDataURL(file);
    });

  // read calls read_feedback_for_app; it throws on a refusal, with the code.
  const read = async (args) => {
    const result = await callTool(TOOL_READ, { lang, ...args });
    const error = toolError(result);
    if (error) {
      const e = new Error(error.message || error.code);
      e.code = error.code;
      throw e;
    }
    return result.structuredContent || {};
  };

  // The transport feedback.js uses in place of the page's fetch, WebSocket
  // and polling.
  const transport = {
    submit: async (body) => {
      const result = await callTool(TOOL_SUBMIT, { sessionId, ...body });
      const error = toolError(result);
      if (!error) return { ok: true, status: 200, payload: { success: true, data: result.structuredContent || {} } };
      const details = error.field ? { field: error.field } : undefined;
      return { ok: false, status: 0, payload: { success: false, error: { code: error.code, message: error.message, details } } };
    },
    // watch waits on the server for the session to leave pending, one call
    // of WATCH_SECONDS after another, and backs off on failures.
    watch: (onStatus) => {
      let stopped = false;
      (async () => {
        let backoff = 1000;
        while (!stopped && !tornDown) {
          try {
            const view = await read({ sessionId, waitSeconds: WATCH_SECONDS, html: false });
            if (stopped) return;
            backoff = 1000;
            lastView = view;
            onStatus(view.status, view.expiresAt);
            if (view.status !== 'pending') return;
          } catch (e) {
            if (stopped) return;
            if (e.code === 'SESSION_NOT_FOUND') {
              onStatus('gone');
              return;
            }
            await sleep(backoff);
            backoff = Math.min(backoff * 2, 30000);
          }
        }
      })();
      return () => {
        stopped = true;
      };
    },
    state: async () => {
      const view = await read({ sessionId, html: false });
      lastView = view;
      return { status: view.status, expiresAt: view.expiresAt };
    },
    previewURL: readDataURL,
    finished: (view) => {
      if (view === 'completed') showAnswer(lastView);
      reportSize();
    },
  };

  // render shows a read of the session: the server's own rendering of the
  // question (html/template, the same as the page's), run by feedback.js.
  const render = (view) => {
    rendered = true;
    sessionId = view.sessionId;
    feedbackUrl = view.feedbackUrl || '';
    lastView = view;
    root.innerHTML = view.html;
    statusEl.hidden = true;
    loadImages();
    addOpenLink();
    if (view.status === 'completed') showAnswer(view);
    const pageData = root.querySelector('#page-data');
    if (pageData && window.feedbackd) window.feedbackd.start(JSON.parse(pageData.textContent), transport);
    reportSize();
  };

  // ---- Finding the session -------------------------------------------------------

  let toolArguments = null;
  let locating = false;

  // withoutImageData is what the app sends back of the arguments: the same
  // object, each image's base64 data replaced by its length, which the
  // server counts the same way (edge/mcp/appref.go).
  const withoutImageData = (args) => {
    if (!args || !Array.isArray(args.images)) return args;
    return {
      ...args,
      images: args.images.map((img) =>
        img && typeof img === 'object' && typeof img.data === 'string' ? { ...img, data: img.data.length } : img,
      ),
    };
  };

  const locate = async () => {
    if (locating || rendered || (!toolArguments && !sessionId)) return;
    locating = true;
    const deadline = Date.now() + LOCATE_FOR_MS;
    let delay = 200;
    try {
      while (!rendered && !tornDown) {
        try {
          const args = sessionId ? { sessionId } : { arguments: withoutImageData(toolArguments) };
          render(await read(args));
          return;
        } catch (e) {
          if (rendered || tornDown) return;
          // Not created yet, most likely: the call and the arguments left
          // the host together.
          if (Date.now() > deadline || e.code === 'INVALID_REQUEST') {
            showStatus(t('app.unavailable'), true);
            return;
          }
          await sleep(delay);
          delay = Math.min(delay * 2, 2000);
        }
      }
    } finally {
      locating = false;
    }
  };

  notifications.set('ui/notifications/tool-input', (params) => {
    toolArguments = params.arguments && typeof params.arguments === 'object' ? params.arguments : {};
    if (hostCapabilities.serverTools) locate();
  });
  notifications.set('ui/notifications/tool-result', (result) => {
    const sc = result && result.structuredContent;
    const named = sc && typeof sc.sessionId === 'string' ? sc.sessionId : '';
    if (!rendered && result && result.isError) {
      const error = toolError(result);
      showStatus(t('app.failed', { reason: (error && error.message) || '' }), true);
      return;
    }
    // Once the question shows, the watch (already waiting on the server)
    // hears whatever ended the call; before, a result naming the session
    // finds it at once.
    if (rendered) return;
    if (named && !sessionId) sessionId = named;
    if (sessionId && hostCapabilities.serverTools) locate();
  });
  notifications.set('ui/notifications/host-context-changed', applyContext);

  const teardown = () => {
    tornDown = true;
    if (resizeObserver) resizeObserver.disconnect();
  };

  const init = async () => {
    let result;
    try {
      result = await request('ui/initialize', {
        appInfo: { name: 'feedbackd', version: '1' },
        appCapabilities: { availableDisplayModes: ['inline'] },
        protocolVersion: PROTOCOL_VERSION,
      });
    } catch {
      showStatus(t('app.unavailable'), true);
      return;
    }
    hostCapabilities = result.hostCapabilities || {};
    applyContext(result.hostContext || {});
    notify('ui/notifications/initialized', {});
    if (resizeObserver) resizeObserver.observe(document.body);
    // Without the host passing tool calls on, the app can neither find nor
    // answer the question: the link in the agent's text still can.
    if (!hostCapabilities.serverTools) showStatus(t('app.unavailable'), true);
    reportSize();
  };

  init();
})();
