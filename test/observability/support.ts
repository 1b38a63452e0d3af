import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real HTTP receiver: answers with the scripted statuses in turn (then 200), keeps every request. */
export async function startReceiver(script: number[] = []): Promise<{ url: string; requests: { headers: IncomingMessage['headers']; body: string; status: number }[]; close(): Promise<void> }> {
  const requests: { headers: IncomingMessage['headers']; body: string; status: number }[] = [];
  const queue = [...script];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = queue.shift() ?? 200;
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, requests, close: () => new Promise((r) => server.close(() => r())) };
}

