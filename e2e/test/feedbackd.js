// Starts and stops a real feedbackd for the end-to-end tests: the binary the
// runner built (FEEDBACKD_BIN), or one built here from the module, on a free
// loopback port with its data in a temporary directory.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const keyA = 'e2e-key-alpha-0123456789abcdef01234567';
export const keyB = 'e2e-key-bravo-0123456789abcdef01234567';

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

function binary(dir) {
  if (process.env.FEEDBACKD_BIN) return process.env.FEEDBACKD_BIN;
  const bin = join(dir, 'feedbackd');
  execFileSync('go', ['build', '-o', bin, './cmd/feedbackd'], { cwd: repo, stdio: 'inherit' });
  return bin;
}

// start runs feedbackd serve and resolves once /ready answers (every part serves).
export async function start(env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'feedbackd-e2e-'));
  const bin = binary(dir);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const proc = spawn(bin, ['serve'], {
    cwd: dir, // no stray .env from the repository
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      DATA_DIR: join(dir, 'data'),
      LISTEN_ADDR: `127.0.0.1:${port}`,
      API_KEYS: `${keyA},${keyB}`,
      MCP_WAIT_SECONDS: '5',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.on('data', (b) => { log += b; });
  proc.stderr.on('data', (b) => { log += b; });
  const exited = new Promise((ok) => proc.on('exit', (code, signal) => ok({ code, signal })));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`feedbackd exited early:\n${log}`);
    try {
      // /ready, not /health: until every part serves, the address is
      // answered by a starting server that refuses requests with 503.
      const res = await fetch(`${url}/ready`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`feedbackd did not become ready:\n${log}`);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return {
    url,
    log: () => log,
    // stop asks for a graceful shutdown and insists after 15 s.
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        const how = await exited;
        clearTimeout(timer);
        if (how.signal === 'SIGKILL') throw new Error(`feedbackd ignored SIGTERM:\n${log}`);
      }
      // make test builds the server with -race: a race it saw fails the test.
      if (log.includes('WARNING: DATA RACE')) throw new Error(`feedbackd reported a data race:\n${log}`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// rest calls the REST API and returns [status, envelope].
export async function rest(method, url, key, body) {
  const headers = {};
  if (key) headers['X-API-Key'] = key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return [res.status, await res.json().catch(() => null)];
}

// pendingSession waits for the principal's newest pending session.
export async function pendingSession(base, key) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [, env] = await rest('GET', `${base}/api/feedback?status=pending`, key);
    const item = env?.data?.items?.[0];
    if (item) return item.sessionId;
    if (Date.now() > deadline) throw new Error('no pending session appeared');
    await new Promise((ok) => setTimeout(ok, 50));
  }
}
