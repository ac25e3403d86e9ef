// The official MCP conformance suite (@modelcontextprotocol/conformance,
// pinned in package.json) against a real feedbackd: every server scenario
// that applies to what feedbackd declares. The suite cannot send
// credentials, so feedbackd runs with AUTH_DISABLED on loopback. The
// scenarios that do not apply, and why, are listed in docs/mcp.md
// ("Conformance"). The scenario dns-rebinding-protection checks what the
// MCP specification requires of a server on localhost: a request whose
// Host/Origin is another name (evil.example.com, as a page on a rebinding
// domain would send) gets a 4xx, one with the real localhost name gets
// through.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { start } from './feedbackd.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin', 'conformance');

let fb;
before(async () => { fb = await start({ AUTH_DISABLED: 'true', API_KEYS: '' }); });
after(async () => { await fb?.stop(); });

// conformance runs one scenario against url and resolves with its exit code
// and output.
function conformance(url, scenario) {
  return new Promise((ok) => {
    execFile(bin, ['server', '--url', url, '--scenario', scenario], { timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => ok({ code: err ? (err.code ?? 1) : 0, out: `${stdout}${stderr}` }));
  });
}

test('dns-rebinding-protection: a foreign Host is refused, localhost is served', async () => {
  const port = new URL(fb.url).port;
  const { code, out } = await conformance(`http://localhost:${port}/mcp`, 'dns-rebinding-protection');
  assert.equal(code, 0, out);
  assert.match(out, /Passed: 2\/2, 0 failed/, out);
});

for (const scenario of ['server-initialize', 'ping', 'tools-list', 'server-sse-multiple-streams', 'resources-list']) {
  test(`conformance: ${scenario}`, async () => {
    const port = new URL(fb.url).port;
    const { code, out } = await conformance(`http://localhost:${port}/mcp`, scenario);
    assert.equal(code, 0, out);
    assert.match(out, /Passed: (\d+)\/\1, 0 failed/, out);
    assert.doesNotMatch(out, /Passed: 0\/0/, out);
  });
}
