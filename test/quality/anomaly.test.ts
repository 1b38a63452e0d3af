import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { currentSnapshot } from '../../src/iceberg/metadata.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { AlertManager } from '../../src/observability/alerts/manager.js';
import { alertStoreFor } from '../../src/observability/alerts/store.js';
import { verifySignature } from '../../src/observability/alerts/webhook.js';
import { qualityMonitorFor, quarantineBatch, qualityIdent, type Anomaly, type QualityMonitor } from '../../src/quality/index.js';
import { bindTableAt } from '../../src/table/table-admin.js';
import { appendSql, bindTable } from '../../src/table/table-ops.js';
import { startReceiver } from '../observability/support.js';

/**
 * Must-show of issue 8: an ingestion loop (the shape the streaming job will take: evaluate each
 * batch, append it to main when clean, quarantine it when suspect) over 200 realistic batches —
 * hourly, with a daily cycle in volume, noisy null rates and values — then one batch with 40 %
 * nulls in a column and one with 10× the rows. Both must be flagged and quarantined on a branch,
 * every anomaly must reach a real webhook receiver (signed; the first delivery answered 500 and
 * retried), and the normal batches must not be flagged (false positives counted and reported).
 */
const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'order_id', required: true, type: 'long' },
    { id: 2, name: 'customer_email', required: false, type: 'string' },
    { id: 3, name: 'amount', required: false, type: 'double' },
    { id: 4, name: 'status', required: false, type: 'string' },
    { id: 5, name: 'created_at', required: false, type: 'timestamptz' },
  ],
};

/** mulberry32: a small seeded PRNG so the run is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOUR = 3_600_000;
const START = Date.parse('2026-03-02T00:00:00Z');

describe('data-quality anomaly detection over an ingestion run', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let duck: Duck;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-quality-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    await catalog.createNamespace(['shop']);
    duck = await Duck.open();
  });
  afterAll(async () => {
    duck?.close();
    await catalog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('flags the 40 %-null batch and the 10× batch, alerts a real webhook, and quarantines them on a branch', async () => {
    const ident = { namespace: ['shop'], name: 'orders' };
    await catalog.createTable(ident, newTableMetadata({ schema, location: catalog.defaultTableLocation(ident) }));
    const receiver = await startReceiver([500]);
    const secret = 'whsec-quality-test';
    const alertStore = alertStoreFor(catalog)!;
    await alertStore.createWebhook({ name: 'data-team', url: receiver.url, secret, maxAttempts: 4 });
    let clock = START;
    const alerts = new AlertManager({ store: alertStore, now: () => clock, delivery: { baseDelayMs: 20 } });
    const monitor: QualityMonitor = qualityMonitorFor(catalog, { alerts, now: () => clock })!;

    // QUALITY_SEED reruns the scenario on other data (false-positive rate across seeds).
    const rnd = prng(Number(process.env.QUALITY_SEED ?? 20260302));
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    let nextId = 0;
    /** One batch as the DuckDB table `batch`: rows, null rate of customer_email, at time `at`. */
    const makeBatch = async (rows: number, nullRate: number, at: number) => {
      await duck.run(`SELECT setseed(${rnd().toFixed(6)})`);
      await duck.run(`CREATE OR REPLACE TABLE batch AS
        SELECT ${nextId} + range AS order_id,
               CASE WHEN random() < ${nullRate} THEN NULL ELSE 'user' || (random() * 5000)::INT || '@example.com' END AS customer_email,
               round(greatest(1, 50 + 20 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())), 2) AS amount,
               ['new', 'paid', 'paid', 'shipped', 'shipped', 'shipped', 'cancelled'][1 + (random() * 7)::INT % 7] AS status,
               epoch_ms(${at} - (random() * 3600000)::BIGINT)::TIMESTAMPTZ AS created_at
        FROM range(${rows})`);
      nextId += rows;
    };
    // Volume follows the day (peak mid-afternoon, trough at night) with ±8 % noise.
    const normalRows = (at: number) => {
      const h = new Date(at).getUTCHours();
      return Math.max(50, Math.round(1000 * (1 + 0.45 * Math.sin((2 * Math.PI * (h - 9)) / 24)) * (1 + 0.08 * gauss())));
    };

    let mainRows = 0;
    const quarantined: { batch: string; rows: number; anomalies: Anomaly[] }[] = [];
    const ingest = async (batchId: string, at: number) => {
      clock = at;
      const ev = await monitor.evaluateBatch(ident, duck, 'batch', { at, batchId });
      const [{ n }] = await duck.rows('SELECT count(*) AS n FROM batch');
      if (ev.suspect) {
        await quarantineBatch(catalog, ident, duck, 'batch', { reason: ev.anomalies.map((a) => a.message).join('; '), batchId });
        quarantined.push({ batch: batchId, rows: Number(n), anomalies: ev.anomalies });
      } else {
        await appendSql(catalog, ident, duck, 'SELECT * FROM batch', { summary: { 'lakehouse.batch-id': batchId } });
        mainRows += Number(n);
      }
      return ev;
    };

    const t0 = Date.now();
    const falsePositives: string[] = [];
    for (let i = 0; i < 200; i++) {
      const at = START + i * HOUR;
      await makeBatch(normalRows(at), 0.01 + 0.02 * rnd(), at);
      const ev = await ingest(`b${i}`, at);
      if (ev.anomalies.length > 0) falsePositives.push(`b${i}: ${ev.anomalies.map((a) => a.message).join('; ')}`);
    }
    const normalMs = Date.now() - t0;
    // Reported, not hidden: how many of the 200 normal batches were flagged, and why.
    console.log(`false positives: ${falsePositives.length} of 200 normal batches (${normalMs} ms)${falsePositives.length ? `\n  ${falsePositives.join('\n  ')}` : ''}`);
    expect(falsePositives.length).toBeLessThanOrEqual(2);

    const mainBefore = currentSnapshot((await catalog.loadTable(ident)).metadata)!['snapshot-id'];
    const fpQuarantined = quarantined.length;

    // 40 % nulls in customer_email, otherwise an ordinary batch.
    const atNulls = START + 200 * HOUR;
    await makeBatch(normalRows(atNulls), 0.4, atNulls);
    const nulls = await ingest('b-nulls', atNulls);
    expect(nulls.anomalies.map((a) => a.metric)).toContain('null_ratio:customer_email');
    console.log(`40% null batch: ${nulls.anomalies.map((a) => a.message).join('; ')}`);

    // Ten times the usual volume for that hour.
    const atFlood = START + 201 * HOUR;
    await makeBatch(10 * normalRows(atFlood), 0.02, atFlood);
    const flood = await ingest('b-flood', atFlood);
    expect(flood.anomalies.map((a) => a.metric)).toContain('row_count');
    expect(flood.anomalies.map((a) => a.metric)).not.toContain('null_ratio:customer_email');
    console.log(`10x batch: ${flood.anomalies.map((a) => a.message).join('; ')}`);

    // Main did not move; the quarantine branch holds main's rows plus the two bad batches.
    const table = await catalog.loadTable(ident);
    expect(currentSnapshot(table.metadata)!['snapshot-id']).toBe(mainBefore);
    expect(quarantined.slice(fpQuarantined).map((q) => q.batch)).toEqual(['b-nulls', 'b-flood']);
    const badRows = quarantined.slice(fpQuarantined).reduce((a, q) => a + q.rows, 0);
    await bindTable(duck, 'main_view', table);
    const [m] = await duck.rows('SELECT count(*) AS n, count(*) FILTER (WHERE customer_email IS NULL) AS nulls FROM main_view');
    expect(Number(m.n)).toBe(mainRows);
    const branchSnap = await bindTableAt(duck, 'quarantine_view', table, { ref: 'quarantine' });
    expect(branchSnap.summary['lakehouse.quarantine.batch-id']).toBe('b-flood');
    const [q] = await duck.rows('SELECT count(*) AS n FROM quarantine_view');
    const fpRows = quarantined.slice(0, fpQuarantined).reduce((a, x) => a + x.rows, 0);
    expect(Number(q.n)).toBeGreaterThanOrEqual(mainRows - fpRows + badRows);
    const [qb] = await duck.rows(`SELECT count(*) AS n FROM quarantine_view WHERE order_id >= ${nextId - badRows}`);
    expect(Number(qb.n)).toBe(badRows);
    const [mb] = await duck.rows(`SELECT count(*) AS n FROM main_view WHERE order_id >= ${nextId - badRows}`);
    expect(Number(mb.n)).toBe(0);

    // The anomalies are queryable in shop.orders__quality.
    await bindTable(duck, 'quality_view', await catalog.loadTable(qualityIdent(ident)));
    const qrows = await duck.rows(`SELECT batch_id, name FROM quality_view WHERE kind = 'anomaly' AND batch_id IN ('b-nulls', 'b-flood') ORDER BY batch_id, name`);
    expect(qrows.length).toBe(nulls.anomalies.length + flood.anomalies.length);
    expect(qrows).toContainEqual({ batch_id: 'b-nulls', name: 'null_ratio:customer_email' });

    // Every anomaly reached the webhook as a signed "firing" notification; the first attempt got a 500 and was retried.
    await alerts.idle();
    expect(receiver.requests[0].status).toBe(500);
    for (const r of receiver.requests) expect(verifySignature(secret, r.body, r.headers['x-lakehouse-signature'] as string)).toBe(true);
    const accepted = receiver.requests.filter((r) => r.status === 200).map((r) => JSON.parse(r.body) as { status: string; alert: { key: string; labels: Record<string, string> } });
    const firedKeys = new Set(accepted.filter((b) => b.status === 'firing').map((b) => b.alert.key));
    for (const a of [...nulls.anomalies, ...flood.anomalies]) expect(firedKeys).toContain(`anomaly:shop.orders:${a.metric}`);
    expect(accepted.find((b) => b.alert.key === 'anomaly:shop.orders:null_ratio:customer_email')!.alert.labels).toMatchObject({ batch: 'b-nulls', column: 'customer_email' });
    // The null-ratio alert resolved with the next batch, whose null ratio was normal again.
    expect(accepted.some((b) => b.status === 'resolved' && b.alert.key === 'anomaly:shop.orders:null_ratio:customer_email')).toBe(true);
    const retried = (await alertStore.listHistory({ events: ['delivered'], limit: 1000 })).find((h) => (h.detail as { attempts: number }).attempts === 2);
    expect(retried).toBeDefined();
    await receiver.close();
  }, 600_000);
});
