// MCP Apps in a real browser: a small web host (apps/host.js) built on the
// official TypeScript SDK client and ext-apps' AppBridge, run in Chromium,
// renders feedbackd's app for a waiting interactive_feedback or
// request_approval call in a sandboxed iframe behind a sandbox proxy of
// another origin; the person answers inside the iframe, and the agent's call
// returns that answer. A client without the extension sees none of it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

import { keyA, pendingSession, rest, start } from './feedbackd.js';

const appsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'apps');
const zh = JSON.parse(readFileSync(join(appsDir, '..', '..', 'web', 'i18n', 'zh.json'), 'utf8'));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

// listen serves handler on a free loopback port and returns its base URL.
function listen(handler) {
  return new Promise((ok, fail) => {
    const srv = createServer(handler);
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => ok({ srv, url: `http://127.0.0.1:${srv.address().port}` }));
  });
}

function close(srv) {
  srv.closeAllConnections();
  return new Promise((ok) => srv.close(ok));
}

// hostServer is the web host's own server: its page, its bundled script,
// and /mcp relayed to feedbackd with the host's credential, as a chat
// client's backend keeps the key away from the browser.
async function hostServer(feedbackdURL, script) {
  const page = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>host</title></head>' +
    '<body><main id="chat"></main><script type="module" src="/host.js"></script></body></html>';
  return listen((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(page);
    } else if (path === '/host.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      res.end(script);
    } else if (path === '/favicon.ico') {
      res.writeHead(204);
      res.end();
    } else if (path === '/mcp') {
      const headers = { ...req.headers, 'x-api-key': keyA };
      delete headers.host;
      delete headers.origin;
      delete headers.referer;
      const upstream = httpRequest(`${feedbackdURL}/mcp`, { method: req.method, headers }, (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
      req.pipe(upstream);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
}

let fb;
let hostSrv;
let sandboxSrv;
let context;
let profile;
let page;
let calls = 0;
const problems = [];

before(async () => {
  fb = await start();
  const bundle = await build({
    entryPoints: [join(appsDir, 'host.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  });
  hostSrv = await hostServer(fb.url, bundle.outputFiles[0].text);
  const sandboxHTML = readFileSync(join(appsDir, 'sandbox.html'));
  sandboxSrv = await listen((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(sandboxHTML);
  });
  profile = mkdtempSync(join(tmpdir(), 'feedbackd-apps-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (hostSrv) await close(hostSrv.srv);
  if (sandboxSrv) await close(sandboxSrv.srv);
  await fb?.stop();
});

// openHost loads the host page with a host context, and watches every frame
// for what a broken app would show: script errors, CSP refusals.
async function openHost({ theme = 'light', locale = 'en-US', serverTools = 'yes' } = {}) {
  if (page) await page.close();
  page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error' || /Content Security Policy/i.test(msg.text())) problems.push(`${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  const q = new URLSearchParams({ sandbox: `${sandboxSrv.url}/sandbox.html`, theme, locale, serverTools });
  await page.goto(`${hostSrv.url}/?${q}`);
  await page.waitForFunction(() => window.host && (window.host.ready || window.host.error));
  const error = await page.evaluate(() => window.host.error);
  assert.equal(error, '', error);
}

// ask makes the agent's call through the host and returns its number.
async function ask(name, args) {
  const n = calls++;
  await page.evaluate(([n, name, args]) => { window.host.call(n, name, args); }, [n, name, args]);
  return n;
}

// answer waits for the agent's call to return and gives its result.
async function answer(n) {
  await page.waitForFunction((n) => window.host.results[n], n, { timeout: 30000 });
  const got = await page.evaluate((n) => window.host.results[n], n);
  assert.equal(got.error, undefined, got.error);
  return got.result;
}

// app is the app's document inside the sandbox proxy's iframe.
const app = (n) => page.frameLocator(`#app-${n}`).frameLocator('iframe');

const textOf = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

describe('MCP Apps in Chromium', () => {
  test('the host finds the app, and the model never sees the app-only tools', async () => {
    await openHost();
    const host = await page.evaluate(() => ({ ...window.host }));
    assert.ok(host.serverExtensions['io.modelcontextprotocol/ui'], JSON.stringify(host.serverExtensions));
    assert.deepEqual(host.modelTools, ['cancel_feedback', 'check_feedback_status', 'get_feedback_result', 'interactive_feedback', 'list_feedback', 'request_approval']);
    assert.deepEqual(host.appTools, ['read_feedback_for_app', 'read_feedback_image_for_app', 'submit_feedback_from_app']);
  });

  test('the person picks an option and writes in the app; the waiting call returns it', async () => {
    await openHost({ theme: 'dark' });
    const n = await ask('interactive_feedback', {
      message: 'Ship **v2** today?', title: 'Release', predefinedOptions: ['Ship', 'Wait'], multiSelect: false, waitSeconds: 60,
    });
    const frame = app(n);
    await frame.getByRole('radio', { name: 'Wait' }).check();
    await frame.locator('#free-text').fill('After the freeze.');
    assert.equal(await frame.locator('html').getAttribute('data-theme'), 'dark');
    assert.match(await frame.locator('.q-title').textContent(), /Release/);
    assert.equal(await frame.locator('.message strong').textContent(), 'v2');
    await frame.locator('#submit').click();
    const result = await answer(n);
    assert.equal(result.structuredContent.status, 'completed', textOf(result));
    assert.deepEqual(result.structuredContent.feedback.selectedOptions, ['Wait']);
    assert.equal(result.structuredContent.feedback.freeText, 'After the freeze.');
    // The app shows what was sent, and REST agrees.
    await frame.locator('[data-view="submitted"]:not([hidden])').waitFor();
    assert.match(await frame.locator('#sent-text').textContent(), /After the freeze\./);
    const [code, env] = await rest('GET', `${fb.url}/api/feedback/${result.structuredContent.sessionId}/result`, keyA);
    assert.equal(code, 200);
    assert.equal(env.data.feedback.combinedFeedback, 'Wait\n\nAfter the freeze.');
    // The host sized its iframe to the app.
    assert.ok(await page.evaluate((n) => window.host.sizes[n] > 100, n));
    // It can elicit too, but was asked through the app only.
    assert.deepEqual(await page.evaluate(() => window.host.elicited), []);
  });

  test('a typed form in the host language: the values come back typed', async () => {
    await openHost({ locale: 'zh-CN' });
    const n = await ask('interactive_feedback', {
      message: 'When, and how many?',
      fields: {
        type: 'object',
        properties: {
          day: { type: 'string', format: 'date', title: 'Release day' },
          copies: { type: 'integer', minimum: 1, maximum: 10, title: 'Copies' },
          notify: { type: 'boolean', title: 'Tell the team' },
        },
        required: ['day', 'copies'],
      },
      waitSeconds: 60,
    });
    const frame = app(n);
    await frame.locator('#answer-form').waitFor();
    assert.equal(await frame.locator('html').getAttribute('lang'), 'zh-CN');
    assert.equal(await frame.locator('#card-title').textContent(), zh['meta.heading']);
    // A field the page refuses is refused here too, before anything is sent.
    await frame.getByLabel('Copies').fill('11');
    await frame.getByLabel('Release day').fill('2026-03-01');
    await frame.locator('#submit').click();
    await frame.locator('[data-name="copies"] .field-error:not([hidden])').waitFor();
    await frame.getByLabel('Copies').fill('3');
    await frame.getByLabel('Tell the team').check();
    await frame.locator('#submit').click();
    const result = await answer(n);
    assert.deepEqual(result.structuredContent.feedback.values, { day: '2026-03-01', copies: 3, notify: true });
  });

  test('an approval is denied with a reason inside the app', async () => {
    await openHost();
    const n = await ask('request_approval', { tool_name: 'Bash', input: { command: 'rm -rf build' }, tool_use_id: 'toolu_e2e' });
    const frame = app(n);
    assert.match(await frame.locator('.approval-action').textContent(), /Bash/);
    assert.match(await frame.locator('.approval-details').textContent(), /rm -rf build/);
    await frame.locator('#reason').fill('Not the build directory.');
    await frame.locator('#deny').click();
    const result = await answer(n);
    assert.equal(textOf(result), '{"behavior":"deny","message":"Not the build directory."}');
    assert.deepEqual(await page.evaluate(() => window.host.elicited), []);
  });

  test("the agent's image shows in the app, and an answer given at the link shows there", async () => {
    await openHost();
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAHElEQVR4nGNg5OAXk1XRNrJk4BOVUdYytLB3AwATeQKA2IiTVwAAAABJRU5ErkJggg==';
    const n = await ask('interactive_feedback', {
      message: 'Does it look right?', images: [{ data: png, mimeType: 'image/png', name: 'layout.png' }], waitSeconds: 60,
    });
    const frame = app(n);
    const img = frame.locator('button.shot img');
    await img.waitFor();
    await frame.locator('button.shot img[src^="data:image/png;base64,"]').waitFor();
    assert.equal(await img.getAttribute('src'), `data:image/png;base64,${png}`);
    // Somebody answers at the link instead.
    const id = await pendingSession(fb.url, keyA);
    const [code] = await rest('POST', `${fb.url}/api/feedback/${id}/submit`, '', { freeText: 'Answered at the link.' });
    assert.equal(code, 200);
    const result = await answer(n);
    assert.equal(result.structuredContent.feedback.freeText, 'Answered at the link.');
    await frame.locator('[data-view="completed"]:not([hidden])').waitFor();
    assert.match(await frame.locator('.app-answer').textContent(), /Answered at the link\./);
    // Opening the page goes through the host.
    await frame.locator('.app-link button').click();
    await page.waitForFunction(() => window.host.openedLinks.length === 1);
    assert.equal(await page.evaluate(() => window.host.openedLinks[0]), `${fb.url}/feedback/${id}`);
  });

  test('a host that passes no tool calls on gets a plain word instead of a form', async () => {
    await openHost({ serverTools: 'no' });
    const n = await ask('interactive_feedback', { message: 'Anyone?', waitSeconds: 0 });
    const status = app(n).locator('#app-status.is-error');
    await status.waitFor();
    assert.equal(await status.textContent(), "This question can't be shown here. Answer it at its link instead.");
    assert.equal(await app(n).locator('#answer-form').count(), 0);
    await answer(n);
  });

  test('no script error or CSP refusal in any frame', () => {
    assert.deepEqual(problems, []);
  });
});

describe('a client without the extension', () => {
  test('sees the six model tools as before, no app, and cannot call the app-only tools', async () => {
    const client = new Client({ name: 'feedbackd-e2e-plain', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${fb.url}/mcp`), { requestInit: { headers: { 'X-API-Key': keyA } } }));
    try {
      assert.equal(client.getServerCapabilities().extensions?.['io.modelcontextprotocol/ui'], undefined);
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['cancel_feedback', 'check_feedback_status', 'get_feedback_result', 'interactive_feedback', 'list_feedback', 'request_approval']);
      for (const tool of tools) assert.equal(tool._meta, undefined, tool.name);
      await assert.rejects(client.callTool({ name: 'read_feedback_for_app', arguments: { sessionId: 'x' } }));
    } finally {
      await client.close();
    }
  });
});
