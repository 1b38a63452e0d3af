// Child process for sqlite-multiprocess.test.ts: opens the catalog store compiled from src/
// (argv[2]: path of open-store.js) on a shared SQLite file and does `count` compare-and-swap
// increments with retry on one table pointer. Protocol: prints "ready" after migrating, waits
// for "go" on stdin, then prints one JSON line with its results.
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';

const [modulePath, url, catalogName, workerId, countArg] = process.argv.slice(2);
const count = Number(countArg);
const { openCatalogStore } = await import(pathToFileURL(modulePath).href);
const store = await openCatalogStore(url, { catalogName });
await store.migrate(); // all workers migrate the fresh file at once

const lines = createInterface({ input: process.stdin });
const go = new Promise((resolve) => lines.once('line', resolve));
process.stdout.write('ready\n');
await go;
lines.close();

const ident = { namespace: ['mp'], name: 'counter' };
const wins = [];
let attempts = 0;
const t0 = performance.now();
while (wins.length < count) {
  attempts++;
  const rec = await store.getTable(ident);
  if (!rec) throw new Error('table vanished');
  const n = Number(rec.metadataLocation.split('/')[1]);
  const next = `chain/${n + 1}/${workerId}-${wins.length}`;
  if (await store.swapMetadataLocation(ident, rec.metadataLocation, next)) {
    wins.push([rec.metadataLocation, next]);
  }
}
const ms = performance.now() - t0;
await store.close();
process.stdout.write(JSON.stringify({ workerId, attempts, wins, ms }) + '\n');
