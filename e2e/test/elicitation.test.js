// The official TypeScript SDK as a client that can ask people itself (MCP
// elicitation, protocol 2025-11-25): feedbackd puts the question to the
// person in the client and at the link at once, and the first answer wins.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitationCompleteNotificationSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';

import { keyA, pendingSession, rest, start } from './feedbackd.js';

let fb;
before(async () => { fb = await start(); });
after(async () => { await fb?.stop(); });

const transports = {
  streamable: (base) => new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { 'X-API-Key': keyA } } }),
  sse: (base) => new SSEClientTransport(new URL(`${base}/sse`), { requestInit: { headers: { 'X-API-Key': keyA } } }),
};

// asking connects a client that declared elicitation (modes: form, url)
// and answers with handler; it records what it was asked, the requests the
// server withdrew and the URL questions it closed.
async function asking(kind, modes, handler) {
  const elicitation = {};
  for (const m of modes) elicitation[m] = {};
  const client = new Client({ name: 'feedbackd-e2e-elicitation', version: '1.0.0' }, { capabilities: { elicitation } });
  const seen = { asked: [], withdrawn: [], completed: [] };
  client.setRequestHandler(ElicitRequestSchema, async (request, extra) => {
    seen.asked.push({ id: extra.requestId, params: request.params });
    // The SDK aborts a request's signal when notifications/cancelled names it.
    extra.signal.addEventListener('abort', () => seen.withdrawn.push(extra.requestId));
    return handler(request.params, extra);
  });
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, async (n) => { seen.completed.push(n.params.elicitationId); });
  await client.connect(transports[kind](fb.url));
  return { client, seen };
}

function structured(result) {
  assert.ok(!result.isError, JSON.stringify(result.content));
  return result.structuredContent;
}

async function waitUntil(what, cond) {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`not so after 10 s: ${what}`);
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

// answerOnPage answers through the feedback page's own form, as a browser
// without JavaScript submits it.
async function answerOnPage(id, fields) {
  const page = await fetch(`${fb.url}/feedback/${id}?lang=en`);
  const html = await page.text();
  const action = html.match(/<form class="answer" id="answer-form" method="post" action="([^"]+)"/)?.[1];
  assert.ok(action, 'the page has no answer form');
  for (const name of Object.keys(fields)) assert.match(html, new RegExp(`name="${name}"`), `the form has no ${name}`);
  const res = await fetch(new URL(action.replaceAll('&amp;', '&'), fb.url), {
    method: 'POST', redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  assert.equal(res.status, 303, await res.text());
}

for (const kind of Object.keys(transports)) {
  describe(`elicitation over ${kind}`, () => {
    test('(a) the client accepts the form: the call returns that answer and REST shows it', async () => {
      const { client, seen } = await asking(kind, ['form'], async () => ({ action: 'accept', content: { selectedOption: 'Yes', freeText: 'ship it' } }));
      try {
        const out = structured(await client.callTool({
          name: 'interactive_feedback',
          arguments: { message: 'Ship v2?', predefinedOptions: ['Yes', 'No'], multiSelect: false, waitSeconds: 30 },
        }));
        assert.equal(out.status, 'completed');
        assert.equal(out.feedback.combinedFeedback, 'Yes\n\nship it');
        assert.equal(seen.asked.length, 1);
        assert.deepEqual(seen.asked[0].params.requestedSchema.properties.selectedOption.enum, ['Yes', 'No']);
        assert.match(seen.asked[0].params.message, new RegExp(`/feedback/${out.sessionId}`));
        const [code, env] = await rest('GET', `${fb.url}/api/feedback/${out.sessionId}/result`, keyA);
        assert.equal(code, 200);
        assert.deepEqual(env.data.feedback.selectedOptions, ['Yes']);
        assert.equal(env.data.feedback.freeText, 'ship it');
      } finally {
        await client.close();
      }
    });

    test('(b) nobody answers the form; the page does: the call returns it and the form is withdrawn', async () => {
      const { client, seen } = await asking(kind, ['form'], (_params, extra) => new Promise((_ok, fail) => {
        extra.signal.addEventListener('abort', () => fail(new Error('withdrawn')));
      }));
      try {
        const call = client.callTool({
          name: 'interactive_feedback',
          arguments: { message: 'Which colour?', predefinedOptions: ['Red', 'Green'], waitSeconds: 30 },
        });
        await waitUntil('the form to be shown', () => seen.asked.length === 1);
        const id = await pendingSession(fb.url, keyA);
        await answerOnPage(id, { selectedOptions: 'Green', freeText: 'from the page' });
        const out = structured(await call);
        assert.equal(out.status, 'completed');
        assert.equal(out.feedback.combinedFeedback, 'Green\n\nfrom the page');
        await waitUntil('notifications/cancelled for the form', () => seen.withdrawn.includes(seen.asked[0].id));
      } finally {
        await client.close();
      }
    });

    test('(c) the person declines: the session ends cancelled, and the agent is told so', async () => {
      const { client } = await asking(kind, ['form'], async () => ({ action: 'decline' }));
      try {
        const result = await client.callTool({ name: 'interactive_feedback', arguments: { message: 'A secret?', waitSeconds: 30 } });
        const out = structured(result);
        assert.equal(out.status, 'cancelled');
        assert.equal(out.cancelReason, 'declined by the person');
        assert.match(result.content[0].text, /declined/);
        const [, env] = await rest('GET', `${fb.url}/api/feedback/${out.sessionId}/status`, keyA);
        assert.equal(env.data.cancelReason, 'declined by the person');
      } finally {
        await client.close();
      }
    });

    test('(d) a URL-mode client gets the link, then notifications/elicitation/complete', async () => {
      const { client, seen } = await asking(kind, ['url'], async () => ({ action: 'accept' }));
      try {
        const call = client.callTool({ name: 'interactive_feedback', arguments: { message: 'Please look at the page', waitSeconds: 30 } });
        await waitUntil('the link to be offered', () => seen.asked.length === 1);
        const id = await pendingSession(fb.url, keyA);
        const { params } = seen.asked[0];
        assert.equal(params.mode, 'url');
        assert.equal(params.url, `${fb.url}/feedback/${id}`);
        assert.equal(params.elicitationId, id);
        await answerOnPage(id, { freeText: 'looked' });
        const out = structured(await call);
        assert.equal(out.feedback.freeText, 'looked');
        await waitUntil('notifications/elicitation/complete', () => seen.completed.includes(id));
      } finally {
        await client.close();
      }
    });

    test('(e) a client without elicitation is never asked and waits at the link as before', async () => {
      const client = new Client({ name: 'feedbackd-e2e-plain', version: '1.0.0' });
      await client.connect(transports[kind](fb.url));
      try {
        const out = structured(await client.callTool({ name: 'interactive_feedback', arguments: { message: 'Plain?', waitSeconds: 0 } }));
        assert.equal(out.status, 'pending');
        assert.match(out.instruction, /get_feedback_result/);
        assert.equal(out.feedbackUrl, `${fb.url}/feedback/${out.sessionId}`);
      } finally {
        await client.close();
      }
    });
  });
}
