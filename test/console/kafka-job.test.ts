import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { produce, record } from '../ingest/support.js';
import { launchBrowser, shot, startService, type Browser, type ConsoleService } from './support.js';

/**
 * The ingestion pages against a real Kafka broker: a source and a job created from the forms,
 * started from the job page, whose live per-partition lag falls to zero; pause/resume; the
 * dead letters of malformed records shown.
 */
const poll = <T>(f: () => Promise<T> | T, timeout = 20_000) => expect.poll(f, { timeout, interval: 200 });

describe('web console: a Kafka ingestion job (headless Chromium, real broker)', () => {
  let kafka: KafkaBroker;
  let svc: ConsoleService;
  let b: Browser;
  let page: Page;
  beforeAll(async () => {
    [kafka, svc, b] = await Promise.all([startKafka(), startService(), launchBrowser()]);
    page = b.page;
    page.setDefaultTimeout(15_000);
  }, 300_000);
  afterAll(async () => {
    await b?.close();
    await svc?.close();
    await kafka?.stop();
  });

  it('creates a source and a job from the forms, starts it and watches the lag fall to zero', async () => {
    const t = await svc.api('POST', '/api/v1/tables', {
      namespace: 'stream',
      name: 'events',
      columns: [
        { name: 'id', type: 'long', required: true },
        { name: 'name', type: 'string' },
        { name: 'amount', type: 'decimal(10,2)' },
        { name: 'ts', type: 'timestamptz' },
      ],
    });
    expect(t.status).toBe(201);
    // 3,000 records over 3 partitions, every 100th malformed (→ dead letters).
    await produce(kafka.bootstrap, 'console-events', (i) => (i % 100 === 0 ? `not json ${i}` : record(i)), 0, 3000, 3);

    await page.goto(`${svc.base}/`);
    await page.getByLabel('API key').fill(svc.adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('whoami').waitFor();
    await page.goto(`${svc.base}/#/jobs`);
    await page.getByLabel('Source name').fill('local');
    await page.getByLabel('Bootstrap servers').fill(kafka.bootstrap);
    await page.getByRole('button', { name: 'Create source' }).click();
    await poll(() => page.locator('table', { has: page.locator('caption:text-is("Kafka sources")') }).textContent()).toContain(kafka.bootstrap);

    await page.getByLabel('Job name').fill('events');
    await page.getByLabel('Topics').fill('console-events');
    await page.getByLabel('Target namespace').fill('stream');
    await page.getByLabel('Target table').fill('events');
    await page.getByLabel('Mapping (JSON)').fill('{"commit": {"intervalMs": 300}}');
    await page.getByLabel('Schedule').fill('manual');
    await page.getByLabel('Enabled (start now)').uncheck();
    await page.getByRole('button', { name: 'Create job' }).click();
    await page.getByRole('heading', { name: 'events → stream.events' }).waitFor();
    await poll(() => page.getByTestId('total-lag').textContent()).toBe('3000');
    expect(await page.getByTestId('job-state').textContent()).toBe('stopped');

    const t0 = Date.now();
    await page.getByRole('button', { name: 'Start' }).click();
    await poll(() => page.getByTestId('total-lag').textContent(), 90_000).toBe('0');
    process.stderr.write(`console: job lag fell to 0 in ${Date.now() - t0} ms\n`);
    expect(await page.getByTestId('job-state').textContent()).toBe('running');
    const lags = await page
      .locator('table', { has: page.locator('caption:text-is("partitions")') })
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => tr.lastElementChild?.textContent));
    expect(lags).toEqual(['0', '0', '0']);
    await poll(() => page.getByTestId('job-status').textContent()).toMatch(/2970 rows in \d+ commits · 30 dead letters/);
    await shot(page, '10-kafka-job');

    await page.getByRole('button', { name: 'Pause' }).click();
    await poll(() => page.getByTestId('job-state').textContent()).toBe('paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await poll(() => page.getByTestId('job-state').textContent()).toBe('running');

    await page.getByRole('button', { name: 'Show dead letters' }).click();
    await poll(() => page.locator('table', { has: page.locator('caption:text-is("dead-letter rows")') }).locator('tbody tr').count()).toBe(30);
    await page.getByRole('button', { name: 'Stop' }).click();
    await poll(() => page.getByTestId('job-state').textContent()).toBe('stopped');
    const count = await svc.api('POST', '/api/v1/queries', { sql: 'SELECT count(*) AS n, count(DISTINCT id) AS d FROM stream.events' });
    expect(count.body.rows).toEqual([[2970, 2970]]);
  }, 240_000);
});
