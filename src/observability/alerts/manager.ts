import { randomUUID } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import { aggregate, collectSeries, compare, isMonotonic, type Series } from './metric-values.js';
import type { AlertStore } from './store.js';
import { matchesAll, severityRank, type AlertState, type HistoryEvent, type Notification, type Rule, type Severity } from './types.js';
import { deliverWebhook, type DeliveryOptions } from './webhook.js';

/**
 * The alert manager: evaluates threshold rules against a prom-client registry — a value, a rate
 * since the previous evaluation or an age, optionally as a ratio (inactive → pending
 * → firing after the rule's for-duration, → inactive again when the condition stops holding, which
 * resolves a firing alert), accepts alerts raised directly by other components (data-quality
 * anomalies), and notifies each firing/resolved transition to the log and to every enabled
 * webhook whose minimum severity it reaches — unless a silence matches the alert's labels.
 * Every transition and delivery outcome is appended to the history.
 *
 * The clock is injectable so for-durations can be tested without waiting. Deliveries run in the
 * background (retries must not hold up evaluation); `idle()` waits for the ones in flight.
 */
export interface AlertLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AlertManagerOptions {
  store: AlertStore;
  /** Metrics the rules read; without one, only raised alerts exist. */
  registry?: Registry;
  /**
   * Where the manager exposes its own metrics (`lakehouse_alerts{state}`,
   * `lakehouse_alert_notifications_total{status}`, `lakehouse_alert_deliveries_total{result}`);
   * default: `registry`.
   */
  metricsRegistry?: Registry;
  logger?: AlertLogger;
  now?: () => number;
  delivery?: DeliveryOptions;
}

/** An alert raised by a component rather than a rule (fires at once). */
export interface RaisedAlert {
  key: string;
  name: string;
  severity: Severity;
  labels: Record<string, string>;
  value?: number | null;
  message?: string | null;
}

export class AlertManager {
  readonly store: AlertStore;
  readonly #registry: Registry | undefined;
  readonly #log: AlertLogger | undefined;
  readonly #now: () => number;
  readonly #delivery: DeliveryOptions;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #notifications?: Counter<'status'>;
  readonly #deliveries?: Counter<'result'>;
  readonly #previous = new Map<string, { x: number; at: number }>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(opts: AlertManagerOptions) {
    this.store = opts.store;
    this.#registry = opts.registry;
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#delivery = opts.delivery ?? {};
    const reg = opts.metricsRegistry ?? opts.registry;
    if (reg) {
      // One set of families per registry, shared by every manager registered on it.
      const existing = <T>(name: string) => reg.getSingleMetric(name) as T | undefined;
      const store = this.store;
      existing<Gauge<'state'>>('lakehouse_alerts') ??
        new Gauge({
          name: 'lakehouse_alerts',
          help: 'Alerts by state (pending, firing), rule and data-quality alerts alike',
          labelNames: ['state'],
          registers: [reg],
          async collect() {
            const states = await store.listStates();
            for (const st of ['pending', 'firing'] as const) this.set({ state: st }, states.filter((x) => x.state === st).length);
          },
        });
      this.#notifications =
        existing<Counter<'status'>>('lakehouse_alert_notifications_total') ??
        new Counter({ name: 'lakehouse_alert_notifications_total', help: 'Alert transitions notified (firing, resolved) or suppressed (silenced)', labelNames: ['status'], registers: [reg] });
      this.#deliveries =
        existing<Counter<'result'>>('lakehouse_alert_deliveries_total') ??
        new Counter({ name: 'lakehouse_alert_deliveries_total', help: 'Webhook deliveries by outcome (delivered, failed after all attempts)', labelNames: ['result'], registers: [reg] });
    }
  }

  /** Evaluates every rule once against the registry's current values. */
  async evaluate(): Promise<void> {
    const rules = await this.store.listRules();
    const series = this.#registry ? await collectSeries(this.#registry) : [];
    const now = this.#now();
    for (const rule of rules) {
      const key = `rule:${rule.id}`;
      const prev = await this.store.getState(key);
      const value = rule.enabled ? this.#ruleValue(rule, series, now) : null;
      const holds = value !== null && compare(value, rule.comparison, rule.threshold);
      await this.#step(rule, key, prev, holds, value, now);
    }
  }

  /** The rule's value: aggregate, then value / rate / age, then the ratio to the denominator. */
  #ruleValue(rule: Rule, series: Series[], now: number): number | null {
    const raw = (which: 'num' | 'den', metric: string, x: number | null): number | null => {
      if (x === null) return null;
      if (rule.fn === 'age') return now / 1000 - x;
      if (rule.fn === 'value') return x;
      // rate: per-second change since the previous evaluation of this rule. A counter that went
      // down was reset, so all of its current value is increase (as Prometheus' rate()); a gauge
      // (warehouse bytes) may go down, and its change is taken as is (Prometheus' deriv()).
      const k = `${rule.id}:${which}`;
      const prev = this.#previous.get(k);
      this.#previous.set(k, { x, at: now });
      if (!prev || now <= prev.at) return null;
      const change = x >= prev.x || !isMonotonic(series, metric) ? x - prev.x : x;
      return change / ((now - prev.at) / 1000);
    };
    const num = raw('num', rule.metric, aggregate(series, rule.metric, rule.matchers, rule.aggregation));
    if (!rule.denominator) return num;
    const d = rule.denominator;
    const den = raw('den', d.metric, aggregate(series, d.metric, d.matchers ?? [], d.aggregation ?? 'sum'));
    return num === null || den === null || den === 0 ? null : num / den;
  }

  async #step(rule: Rule, key: string, prev: AlertState | null, holds: boolean, value: number | null, now: number): Promise<void> {
    const labels = { alertname: rule.name, severity: rule.severity, ...rule.labels };
    const expr = (m: string, a: string) => (rule.fn === 'value' ? `${a}(${m})` : `${rule.fn}(${a}(${m}))`);
    const text = rule.denominator ? `${expr(rule.metric, rule.aggregation)} / ${expr(rule.denominator.metric, rule.denominator.aggregation ?? 'sum')}` : expr(rule.metric, rule.aggregation);
    const message = `${text} = ${value === null ? 'none' : Number(value.toPrecision(6))} (${rule.comparison} ${rule.threshold})`;
    const base: AlertState = prev ?? {
      key,
      ruleId: rule.id,
      name: rule.name,
      state: 'inactive',
      severity: rule.severity,
      labels,
      value: null,
      message: null,
      activeSince: null,
      firedAt: null,
      resolvedAt: null,
      updatedAt: now,
    };
    const next: AlertState = { ...base, name: rule.name, severity: rule.severity, labels, value, message, updatedAt: now };
    if (holds) {
      if (base.state === 'inactive') {
        next.state = 'pending';
        next.activeSince = now;
        next.firedAt = null;
        next.resolvedAt = null;
      }
      if (next.state === 'pending' && now - (next.activeSince ?? now) >= rule.forMs) {
        next.state = 'firing';
        next.firedAt = now;
      }
    } else {
      next.state = 'inactive';
      next.activeSince = null;
      if (base.state === 'firing') next.resolvedAt = now;
    }
    await this.store.putState(next);
    if (base.state === 'inactive' && next.state === 'pending') await this.#record(next, 'pending', now);
    if (base.state !== 'firing' && next.state === 'firing') await this.#transition(next, 'firing', now);
    if (base.state === 'firing' && next.state === 'inactive') await this.#transition(next, 'resolved', now);
  }

  /** Fires an alert now (no for-duration). A key already firing only gets its value updated. */
  async raise(a: RaisedAlert): Promise<AlertState> {
    const now = this.#now();
    const prev = await this.store.getState(a.key);
    const labels = { alertname: a.name, severity: a.severity, ...a.labels };
    const next: AlertState = {
      key: a.key,
      ruleId: null,
      name: a.name,
      state: 'firing',
      severity: a.severity,
      labels,
      value: a.value ?? null,
      message: a.message ?? null,
      activeSince: prev?.state === 'firing' ? prev.activeSince : now,
      firedAt: prev?.state === 'firing' ? prev.firedAt : now,
      resolvedAt: null,
      updatedAt: now,
    };
    await this.store.putState(next);
    if (prev?.state !== 'firing') await this.#transition(next, 'firing', now);
    return next;
  }

  /** Resolves a raised alert; nothing happens unless it is firing. */
  async resolve(key: string): Promise<void> {
    const prev = await this.store.getState(key);
    if (!prev || prev.state !== 'firing') return;
    const now = this.#now();
    const next: AlertState = { ...prev, state: 'inactive', activeSince: null, resolvedAt: now, updatedAt: now };
    await this.store.putState(next);
    await this.#transition(next, 'resolved', now);
  }

  async #record(alert: AlertState, event: HistoryEvent, at: number, detail: Record<string, unknown> | null = null): Promise<void> {
    await this.store.appendHistory({ key: alert.key, ruleId: alert.ruleId, name: alert.name, event, severity: alert.severity, labels: alert.labels, value: alert.value, message: alert.message, detail, at });
  }

  async #transition(alert: AlertState, status: 'firing' | 'resolved', at: number): Promise<void> {
    await this.#record(alert, status, at);
    const silence = (await this.store.listSilences(at)).find((s) => matchesAll(s.matchers, alert.labels));
    if (silence) {
      await this.#record(alert, 'silenced', at, { silenceId: silence.id, status });
      this.#notifications?.inc({ status: 'silenced' });
      return;
    }
    this.#notifications?.inc({ status });
    const n: Notification = { status, alert, at };
    const logObj = { alert: { key: alert.key, name: alert.name, severity: alert.severity, labels: alert.labels, value: alert.value }, status };
    if (status === 'resolved') this.#log?.info(logObj, `alert resolved: ${alert.name}`);
    else if (alert.severity === 'critical') this.#log?.error(logObj, `alert firing: ${alert.name}`);
    else this.#log?.warn(logObj, `alert firing: ${alert.name}`);
    const hooks = (await this.store.listWebhooks()).filter((h) => h.enabled && severityRank(alert.severity) >= severityRank(h.minSeverity));
    for (const hook of hooks) {
      const deliveryId = randomUUID();
      const p = (async () => {
        const payload = { version: 1, deliveryId, status: n.status, at: new Date(n.at).toISOString(), alert: n.alert };
        const r = await deliverWebhook(hook, payload, deliveryId, this.#delivery);
        const detail = { webhookId: hook.id, webhook: hook.name, deliveryId, status, attempts: r.attempts, httpStatus: r.status, error: r.error };
        this.#deliveries?.inc({ result: r.ok ? 'delivered' : 'failed' });
        await this.#record(alert, r.ok ? 'delivered' : 'delivery-failed', this.#now(), detail);
        if (!r.ok) this.#log?.error({ ...detail, alert: alert.key }, `alert delivery to webhook ${hook.name} failed after ${r.attempts} attempts`);
      })().catch((e) => this.#log?.error({ err: e, alert: alert.key }, 'alert delivery bookkeeping failed'));
      this.#inFlight.add(p);
      void p.finally(() => this.#inFlight.delete(p));
    }
  }

  /** Waits for every delivery in flight (retries included). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  /** Evaluates every `intervalMs` until stop(); an evaluation never overlaps the previous one. */
  start(intervalMs = 15_000): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.#running) return;
      this.#running = this.evaluate()
        .catch((e) => this.#log?.error({ err: e }, 'alert evaluation failed'))
        .finally(() => (this.#running = null));
    }, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
    await this.idle();
  }
}
