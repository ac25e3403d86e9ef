// mcp-remote launched the way Claude Desktop launches it: a stdio server
// process given the remote URL and an auth header whose ${VAR} mcp-remote
// expands from its environment. The test speaks stdio to it with the
// official TypeScript SDK, as the desktop app would.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

import { keyA, pendingSession, rest, start } from './feedbackd.js';

const proxy = createRequire(import.meta.url).resolve('mcp-remote/dist/proxy.js');

let fb;
let home;
before(async () => {
  fb = await start();
  home = mkdtempSync(join(tmpdir(), 'mcp-remote-home-'));
});
after(async () => {
  await fb?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

// What a claude_desktop_config.json entry turns into: command, args, env.
function desktopEntry(path, extra = []) {
  return {
    command: process.execPath, // "npx" in the documented entry; node runs the same file
    args: [proxy, `${fb.url}${path}`, '--header', 'X-API-Key:${FEEDBACKD_API_KEY}', ...extra],
    env: { PATH: process.env.PATH, HOME: home, MCP_REMOTE_CONFIG_DIR: join(home, '.mcp-auth'), FEEDBACKD_API_KEY: keyA },
    stderr: 'pipe',
  };
}

const bridges = {
  'Streamable HTTP (/mcp)': ['/mcp', []],
  'Streamable HTTP (/mcp), 2026-07-28 era': ['/mcp', ['--protocol', 'auto']],
  'HTTP+SSE (/sse)': ['/sse', ['--transport', 'sse-only']],
};

for (const [name, [path, extra]] of Object.entries(bridges)) {
  describe(`mcp-remote bridging stdio to ${name}`, () => {
    let client;
    let stderr = '';
    before(async () => {
      const transport = new StdioClientTransport(desktopEntry(path, extra));
      transport.stderr?.on('data', (b) => { stderr += b; });
      client = new Client({ name: 'claude-desktop-like', version: '1.0.0' });
      try {
        await client.connect(transport);
      } catch (err) {
        throw new Error(`${err.message}\nmcp-remote said:\n${stderr}\nfeedbackd said:\n${fb.log()}`);
      }
    });
    after(async () => { await client?.close(); });

    test('lists the six tools', async () => {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['cancel_feedback', 'check_feedback_status', 'get_feedback_result', 'interactive_feedback', 'list_feedback', 'request_approval']);
    });

    test('calls each tool, with a wait answered over REST', async () => {
      const created = await client.callTool({ name: 'interactive_feedback', arguments: { message: 'Via mcp-remote?', waitSeconds: 0 } });
      const { sessionId } = created.structuredContent;
      assert.equal(created.structuredContent.status, 'pending');
      const checked = await client.callTool({ name: 'check_feedback_status', arguments: { sessionId } });
      assert.equal(checked.structuredContent.sessionId, sessionId);

      const waiting = client.callTool({ name: 'get_feedback_result', arguments: { sessionId, waitSeconds: 30 } });
      assert.equal(await pendingSession(fb.url, keyA), sessionId);
      const [code] = await rest('POST', `${fb.url}/api/feedback/${sessionId}/submit`, '', { freeText: 'yes, through the bridge' });
      assert.equal(code, 200);
      const result = await waiting;
      assert.equal(result.structuredContent.status, 'completed');
      assert.equal(result.structuredContent.feedback.combinedFeedback, 'yes, through the bridge');
    });
  });
}
