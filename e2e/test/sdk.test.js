// The official TypeScript SDK client against a real feedbackd, over
// Streamable HTTP (/mcp) and the older HTTP+SSE transport (/sse).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { keyA, keyB, pendingSession, rest, start } from './feedbackd.js';

let fb;
before(async () => { fb = await start(); });
after(async () => { await fb?.stop(); });

const transports = {
  streamable: (base, key) => new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { 'X-API-Key': key } } }),
  sse: (base, key) => new SSEClientTransport(new URL(`${base}/sse`), { requestInit: { headers: { 'X-API-Key': key } } }),
};

async function connect(kind, key = keyA) {
  const client = new Client({ name: 'feedbackd-e2e', version: '1.0.0' });
  await client.connect(transports[kind](fb.url, key));
  return client;
}

// Two small real PNGs: the agent's screenshot and the person's answer.
const agentPNG = 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAHElEQVR4nGNg5OAXk1XRNrJk4BOVUdYytLB3AwATeQKA2IiTVwAAAABJRU5ErkJggg==';
const personPNG = 'iVBORw0KGgoAAAANSUhEUgAAAAQAAAADCAIAAAA7ljmRAAAAMklEQVR4nAEnANj/AGNqcXh/ho2Um6KpsABwd36FjJOaoaivtr0AfYSLkpmgp661vMPKgVYVK3/bOaAAAAAASUVORK5CYII=';

function textOf(result) {
  return result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

for (const kind of Object.keys(transports)) {
  describe(`TypeScript SDK over ${kind}`, () => {
    let client;
    before(async () => { client = await connect(kind); });
    after(async () => { await client?.close(); });

    test('the server introduces itself and lists exactly the six tools', async () => {
      assert.equal(client.getServerVersion().name, 'Interactive Feedback MCP');
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['cancel_feedback', 'check_feedback_status', 'get_feedback_result', 'interactive_feedback', 'list_feedback', 'request_approval']);
      for (const tool of tools) {
        assert.equal(tool.inputSchema.type, 'object', tool.name);
        // request_approval answers with one text content, as a permission
        // prompt tool must; the others with structured content too.
        assert.equal(tool.outputSchema?.type, tool.name === 'request_approval' ? undefined : 'object', tool.name);
      }
    });

    test("the person's image comes back as an image content block", async () => {
      // The agent asks with a screenshot; the person answers with another.
      const call = client.callTool({
        name: 'interactive_feedback',
        arguments: {
          message: 'Does it look right?', title: 'Layout check', predefinedOptions: ['Yes', 'No'], multiSelect: false,
          images: [{ data: agentPNG, mimeType: 'image/png', name: 'layout.png' }], waitSeconds: 30,
        },
      });
      const id = await pendingSession(fb.url, keyA);
      const [code, env] = await rest('POST', `${fb.url}/api/feedback/${id}/submit`, '', {
        selectedOptions: ['No'], images: [{ data: personPNG, mimeType: 'image/png', name: 'mine.png' }],
      });
      assert.equal(code, 200, JSON.stringify(env));
      const result = await call;
      assert.equal(result.isError, undefined, textOf(result));
      const images = result.content.filter((c) => c.type === 'image');
      assert.equal(images.length, 1);
      assert.equal(images[0].mimeType, 'image/png');
      assert.equal(images[0].data, personPNG);
      assert.match(textOf(result), /No\n\n\[1 image attached\]/);
      // structuredContent (validated against the outputSchema by the SDK)
      // names the image, with a URL its owner can read it at.
      const { question, feedback } = result.structuredContent;
      assert.equal(question.title, 'Layout check');
      assert.equal(question.multiSelect, false);
      assert.equal(question.images[0].name, 'layout.png');
      assert.equal(feedback.images[0].name, 'mine.png');
      const res = await fetch(feedback.images[0].url, { headers: { 'X-API-Key': keyA } });
      assert.equal(res.status, 200);
      assert.equal(Buffer.from(await res.arrayBuffer()).toString('base64'), personPNG);
    });

    test('each tool answers with structured content that matches its outputSchema', async () => {
      // The SDK validates structuredContent against the outputSchema itself.
      const created = await client.callTool({
        name: 'interactive_feedback',
        arguments: { message: 'Deploy **now**?', predefinedOptions: ['Yes', 'Later'], waitSeconds: 0 },
      });
      assert.equal(created.isError, undefined, textOf(created));
      const { sessionId, status, feedbackUrl, instruction } = created.structuredContent;
      assert.equal(status, 'pending');
      assert.equal(feedbackUrl, `${fb.url}/feedback/${sessionId}`);
      assert.match(instruction, /get_feedback_result/);

      const checked = await client.callTool({ name: 'check_feedback_status', arguments: { sessionId } });
      assert.equal(checked.structuredContent.status, 'pending');

      const [code] = await rest('POST', `${fb.url}/api/feedback/${sessionId}/submit`, '', { selectedOptions: ['Later'], freeText: 'after the demo' });
      assert.equal(code, 200);
      const result = await client.callTool({ name: 'get_feedback_result', arguments: { sessionId } });
      assert.equal(result.structuredContent.status, 'completed');
      assert.equal(result.structuredContent.feedback.combinedFeedback, 'Later\n\nafter the demo');
      assert.match(textOf(result), /after the demo/);
    });

    test('a waiting interactive_feedback returns the answer submitted over REST', async () => {
      const call = client.callTool({
        name: 'interactive_feedback',
        arguments: { message: 'Which region?', predefinedOptions: ['eu', 'us'], waitSeconds: 30 },
      });
      const id = await pendingSession(fb.url, keyA);
      const [code] = await rest('POST', `${fb.url}/api/feedback/${id}/submit`, '', { selectedOptions: ['eu'] });
      assert.equal(code, 200);
      const result = await call;
      assert.equal(result.structuredContent.sessionId, id);
      assert.equal(result.structuredContent.status, 'completed');
      assert.deepEqual(result.structuredContent.feedback.selectedOptions, ['eu']);
    });

    test('bad arguments and foreign sessions are isError results, and the session lives on', async () => {
      const other = await connect(kind, keyB);
      const foreign = (await other.callTool({ name: 'interactive_feedback', arguments: { message: "B's", waitSeconds: 0 } })).structuredContent.sessionId;
      await other.close();
      const cases = [
        ['interactive_feedback', { message: 'x'.repeat(1001) }, /at most 1000 characters/],
        ['interactive_feedback', { message: 'ok', predefinedOptions: Array.from({ length: 11 }, (_, i) => `o${i}`) }, /at most 10 options/],
        ['get_feedback_result', { sessionId: 'not-a-uuid' }, /UUID/],
        ['check_feedback_status', { sessionId: foreign }, /SESSION_NOT_FOUND/],
        ['get_feedback_result', { sessionId: foreign, waitSeconds: 0 }, /SESSION_NOT_FOUND/],
      ];
      for (const [name, args, want] of cases) {
        const res = await client.callTool({ name, arguments: args });
        assert.equal(res.isError, true, `${name} ${JSON.stringify(args).slice(0, 80)}`);
        assert.match(textOf(res), want);
      }
      const { tools } = await client.listTools();
      assert.equal(tools.length, 6);
    });
  });
}

test('progress notifications arrive about every 10 s while a call waits', { timeout: 60_000 }, async () => {
  await Promise.all(Object.keys(transports).map(async (kind) => {
    const client = await connect(kind);
    try {
      const progress = [];
      const result = await client.callTool(
        { name: 'interactive_feedback', arguments: { message: `Progress over ${kind}?`, waitSeconds: 12 } },
        undefined,
        { onprogress: (p) => progress.push(p) },
      );
      assert.equal(result.structuredContent.status, 'pending', kind);
      assert.ok(progress.length >= 1, `${kind}: no progress notification in 12 s`);
      assert.equal(progress[0].total, 12, kind);
      assert.match(progress[0].message, /Waiting for the person/, kind);
    } finally {
      await client.close();
    }
  }));
});

test('MCP endpoints refuse a missing key with 401 and a Bearer challenge', async () => {
  for (const [method, path] of [['POST', '/mcp'], ['GET', '/sse']]) {
    const res = await fetch(`${fb.url}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: method === 'POST' ? '{"jsonrpc":"2.0","id":1,"method":"ping"}' : undefined,
    });
    assert.equal(res.status, 401, path);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="feedbackd"', path);
    assert.equal((await res.json()).error.code, 'UNAUTHORIZED', path);
  }
  for (const kind of Object.keys(transports)) {
    await assert.rejects(connect(kind, 'wrong-key'), `${kind} connected with a wrong key`);
  }
});
