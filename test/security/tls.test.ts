import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO_ROOT } from '../support/cli.js';
import { freePort, spawnPeer, type Peer } from '../support/process.js';
import { startSecureServer, type SecureServer } from './support.js';

/**
 * TLS: a self-signed certificate made by openssl here; the service speaks HTTPS with it (in
 * process, and `lakehouse serve` from LAKEHOUSE_TLS_CERT/KEY), and plain HTTP to that port fails.
 */
function get(url: string, opts: { ca?: Buffer; token?: string } = {}): Promise<{ status: number; body: string; fingerprint?: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      { method: 'GET', ca: opts.ca, headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} },
      (res) => {
        let body = '';
        const sock = res.socket as unknown as { getPeerCertificate?: () => { fingerprint256?: string } };
        const fingerprint = sock.getPeerCertificate?.().fingerprint256;
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('TLS', () => {
  let dir: string;
  let cert: Buffer;
  let s: SecureServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    s = await startSecureServer({}, { tls: { cert: cert.toString(), key: readFileSync(join(dir, 'key.pem')).toString() } });
  });
  afterAll(async () => {
    await s?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with the configured certificate; plain HTTP to the port fails', async () => {
    expect(s.base).toMatch(/^https:\/\//);
    const res = await get(`${s.base}/api/v1/security/whoami`, { ca: cert, token: s.adminKey });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).principal).toBe('admin');
    expect(res.fingerprint).toBe(new X509Certificate(cert).fingerprint256);
    // Without trusting the self-signed certificate the client refuses the connection.
    await expect(get(`${s.base}/health`)).rejects.toThrow(/self-signed|self signed/);
    const plain = s.base.replace('https://', 'http://');
    const answer = await get(`${plain}/health`).then((r) => r.status, (e: Error) => e.message);
    expect(answer).not.toBe(200);
  });

  const distMain = `${REPO_ROOT}dist/cli/main.js`;
  const stale = !existsSync(distMain) || ['src/cli/main.ts', 'src/api/server.ts', 'src/config.ts', 'src/security/http.ts'].some((f) => statSync(`${REPO_ROOT}${f}`).mtimeMs > statSync(distMain).mtimeMs + 1);
  it.skipIf(stale)('lakehouse serve with LAKEHOUSE_TLS_CERT/KEY listens on https', async () => {
    const port = await freePort();
    let peer: Peer | undefined;
    try {
      peer = spawnPeer(process.execPath, [BIN, 'serve'], {
        cwd: dir,
        env: { ...process.env, LAKEHOUSE_PORT: String(port), LAKEHOUSE_LOG_LEVEL: 'warn', LAKEHOUSE_TLS_CERT: 'cert.pem', LAKEHOUSE_TLS_KEY: join(dir, 'key.pem'), LAKEHOUSE_WAREHOUSE: join(dir, 'wh') },
      });
      let ready = false;
      for (let i = 0; i < 200 && !ready; i++) {
        ready = await get(`https://127.0.0.1:${port}/health`, { ca: cert }).then((r) => r.status === 200, () => false);
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready, peer.output()).toBe(true);
      expect(peer.output()).toContain('listening on https://');
      // First start: the admin key was printed once; it works over TLS.
      const key = /Bearer (lhk_\S+)/.exec(peer.output())?.[1];
      expect(key).toBeDefined();
      expect((await get(`https://127.0.0.1:${port}/v1/config`, { ca: cert })).status).toBe(401);
      expect((await get(`https://127.0.0.1:${port}/v1/config`, { ca: cert, token: key })).status).toBe(200);
    } finally {
      await peer?.stop();
    }
  });
});
