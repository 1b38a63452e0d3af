import { open, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/**
 * icebird reads through `fetch`; Node 20's fetch has no file:// support, so tests route plain
 * paths and file:// URLs to the disk, honouring HEAD and Range as an HTTP object store would.
 * Everything else goes to the real fetch.
 */
export function installFileFetch(): () => void {
  const real = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith('/') && !url.startsWith('file:')) return real(input, init);
    const path = url.startsWith('file:') ? fileURLToPath(url) : decodeURI(url);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      return new Response('not found', { status: 404 });
    }
    const method = (init?.method ?? 'GET').toUpperCase();
    if (method === 'HEAD') return new Response(null, { status: 200, headers: { 'content-length': String(size) } });
    const headers = new Headers(init?.headers);
    const range = headers.get('range');
    let start = 0;
    let end = size - 1;
    if (range) {
      const m = /bytes=(\d*)-(\d*)/.exec(range)!;
      if (m[1] === '') start = Math.max(0, size - Number(m[2]));
      else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(size - 1, Number(m[2]));
      }
    }
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(end - start + 1);
      await fh.read(buf, 0, buf.length, start);
      return new Response(buf, {
        status: range ? 206 : 200,
        headers: { 'content-length': String(buf.length), ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}) },
      });
    } finally {
      await fh.close();
    }
  }) as typeof fetch;
  return () => {
    globalThis.fetch = real;
  };
}
