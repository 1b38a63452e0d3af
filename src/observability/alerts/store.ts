import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { lakehouseError } from '../../core/errors.js';
import { classifyConstraintError } from '../../catalog/sql/sql-store.js';
import type { AlertState, HistoryEntry, HistoryEvent, Rule, RuleSpec, Severity, Silence, SilenceSpec, Webhook, WebhookSpec } from './types.js';
import { nullableNumber as num } from '../../catalog/sql/row-values.js';
import { sqlStoreOf } from '../../catalog/sql-store-of.js';
import { openSecret, sealSecret } from '../../security/encryption/secrets.js';

/**
 * Persistence of alert rules, webhooks, silences, alert state and history (migration
 * 0008-observability) in the catalog database, on SQLite and PostgreSQL alike. PostgreSQL returns
 * bigint columns as strings, hence Number() on reads.
 */
interface RulesTable {
  catalog_name: string;
  id: string;
  name: string;
  description: string | null;
  metric: string;
  matchers: string;
  aggregation: string;
  comparison: string;
  fn: string;
  denominator: string | null;
  threshold: number;
  for_ms: number | string;
  severity: Severity;
  labels: string;
  enabled: number;
  created_at: string;
  updated_at: string;
}
interface WebhooksTable {
  catalog_name: string;
  id: string;
  name: string;
  url: string;
  secret: string;
  min_severity: Severity;
  max_attempts: number;
  enabled: number;
  created_at: string;
  updated_at: string;
}
interface SilencesTable {
  catalog_name: string;
  id: string;
  matchers: string;
  until_ms: number | string;
  comment: string | null;
  created_by: string | null;
  created_at: string;
}
interface StateTable {
  catalog_name: string;
  alert_key: string;
  rule_id: string | null;
  name: string;
  state: AlertState['state'];
  severity: Severity;
  labels: string;
  value: number | null;
  message: string | null;
  active_since: number | string | null;
  fired_at: number | string | null;
  resolved_at: number | string | null;
  updated_at: number | string;
}
interface HistoryTable {
  catalog_name: string;
  id: string;
  alert_key: string;
  rule_id: string | null;
  name: string;
  event: HistoryEvent;
  severity: Severity;
  labels: string;
  value: number | null;
  message: string | null;
  detail: string | null;
  at: number | string;
}
interface AlertDatabase {
  lakehouse_alert_rules: RulesTable;
  lakehouse_alert_webhooks: WebhooksTable;
  lakehouse_alert_silences: SilencesTable;
  lakehouse_alert_state: StateTable;
  lakehouse_alert_history: HistoryTable;
}


function toRule(r: RulesTable): Rule {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    metric: r.metric,
    matchers: JSON.parse(r.matchers),
    aggregation: r.aggregation as Rule['aggregation'],
    comparison: r.comparison as Rule['comparison'],
    fn: r.fn as Rule['fn'],
    denominator: r.denominator === null ? null : JSON.parse(r.denominator),
    threshold: Number(r.threshold),
    forMs: Number(r.for_ms),
    severity: r.severity,
    labels: JSON.parse(r.labels),
    enabled: r.enabled !== 0,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
function toWebhook(r: WebhooksTable): Webhook {
  return {
    id: r.id,
    name: r.name,
    url: r.url,
    // Sealed with the master key at rest (security/encryption/secrets.ts).
    secret: openSecret(r.secret),
    minSeverity: r.min_severity,
    maxAttempts: r.max_attempts,
    enabled: r.enabled !== 0,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
function toSilence(r: SilencesTable): Silence {
  return { id: r.id, matchers: JSON.parse(r.matchers), until: Number(r.until_ms), comment: r.comment, createdBy: r.created_by, createdAt: r.created_at };
}
function toState(r: StateTable): AlertState {
  return {
    key: r.alert_key,
    ruleId: r.rule_id,
    name: r.name,
    state: r.state,
    severity: r.severity,
    labels: JSON.parse(r.labels),
    value: r.value === null ? null : Number(r.value),
    message: r.message,
    activeSince: num(r.active_since),
    firedAt: num(r.fired_at),
    resolvedAt: num(r.resolved_at),
    updatedAt: Number(r.updated_at),
  };
}
function toHistory(r: HistoryTable): HistoryEntry {
  return {
    id: r.id,
    key: r.alert_key,
    ruleId: r.rule_id,
    name: r.name,
    event: r.event,
    severity: r.severity,
    labels: JSON.parse(r.labels),
    value: r.value === null ? null : Number(r.value),
    message: r.message,
    detail: r.detail === null ? null : JSON.parse(r.detail),
    at: Number(r.at),
  };
}

let lastMs = 0;
let seq = 0;
/**
 * A UUIDv7 (RFC 9562) with a per-process counter in rand_a, so history ids sort in insertion
 * order even when entries share a timestamp (which breaks ties in `at`).
 */
export function uuidV7(): string {
  const ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    seq = 0;
  } else seq = (seq + 1) & 0xfff;
  const rand = randomUUID().replace(/-/g, '');
  const hex = ms.toString(16).padStart(12, '0') + '7' + seq.toString(16).padStart(3, '0') + ((parseInt(rand[16], 16) & 0x3) | 0x8).toString(16) + rand.slice(17, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export interface HistoryFilter {
  key?: string;
  ruleId?: string;
  events?: HistoryEvent[];
  since?: number;
  limit?: number;
}

export class AlertStore {
  readonly db: Kysely<AlertDatabase>;

  constructor(db: Kysely<any>, readonly catalogName: string) {
    this.db = db as Kysely<AlertDatabase>;
  }

  async #guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (classifyConstraintError(e) === 'unique') throw lakehouseError('ALREADY_EXISTS', `${what} already exists`);
      throw e;
    }
  }

  // ---------------------------------------------------------------------------------- rules

  async listRules(): Promise<Rule[]> {
    const rows = await this.db.selectFrom('lakehouse_alert_rules').selectAll().where('catalog_name', '=', this.catalogName).orderBy('name').execute();
    return rows.map(toRule);
  }

  async getRule(id: string): Promise<Rule | null> {
    const r = await this.db.selectFrom('lakehouse_alert_rules').selectAll().where('catalog_name', '=', this.catalogName).where('id', '=', id).executeTakeFirst();
    return r ? toRule(r) : null;
  }

  #ruleColumns(s: RuleSpec) {
    return {
      name: s.name,
      description: s.description ?? null,
      metric: s.metric,
      matchers: JSON.stringify(s.matchers ?? []),
      aggregation: s.aggregation ?? 'sum',
      comparison: s.comparison,
      fn: s.fn ?? 'value',
      denominator: s.denominator ? JSON.stringify({ metric: s.denominator.metric, matchers: s.denominator.matchers ?? [], aggregation: s.denominator.aggregation ?? 'sum' }) : null,
      threshold: s.threshold,
      for_ms: s.forMs ?? 0,
      severity: s.severity ?? 'warning',
      labels: JSON.stringify(s.labels ?? {}),
      enabled: s.enabled === false ? 0 : 1,
    };
  }

  async createRule(spec: RuleSpec): Promise<Rule> {
    const now = new Date().toISOString();
    const row: RulesTable = { catalog_name: this.catalogName, id: randomUUID(), ...this.#ruleColumns(spec), created_at: now, updated_at: now };
    await this.#guard(`alert rule ${spec.name}`, () => this.db.insertInto('lakehouse_alert_rules').values(row).execute());
    return toRule(row);
  }

  async replaceRule(id: string, spec: RuleSpec): Promise<Rule> {
    const res = await this.#guard(`alert rule ${spec.name}`, () =>
      this.db
        .updateTable('lakehouse_alert_rules')
        .set({ ...this.#ruleColumns(spec), updated_at: new Date().toISOString() })
        .where('catalog_name', '=', this.catalogName)
        .where('id', '=', id)
        .executeTakeFirst(),
    );
    if (Number(res.numUpdatedRows) === 0) throw lakehouseError('NOT_FOUND', `no alert rule ${id}`);
    return (await this.getRule(id))!;
  }

  /** Removes the rule and its current state (history stays). */
  async deleteRule(id: string): Promise<void> {
    const res = await this.db.deleteFrom('lakehouse_alert_rules').where('catalog_name', '=', this.catalogName).where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw lakehouseError('NOT_FOUND', `no alert rule ${id}`);
    await this.db.deleteFrom('lakehouse_alert_state').where('catalog_name', '=', this.catalogName).where('alert_key', '=', `rule:${id}`).execute();
  }

  // ------------------------------------------------------------------------------- webhooks

  async listWebhooks(): Promise<Webhook[]> {
    const rows = await this.db.selectFrom('lakehouse_alert_webhooks').selectAll().where('catalog_name', '=', this.catalogName).orderBy('name').execute();
    return rows.map(toWebhook);
  }

  async getWebhook(id: string): Promise<Webhook | null> {
    const r = await this.db.selectFrom('lakehouse_alert_webhooks').selectAll().where('catalog_name', '=', this.catalogName).where('id', '=', id).executeTakeFirst();
    return r ? toWebhook(r) : null;
  }

  async createWebhook(spec: WebhookSpec): Promise<Webhook> {
    const now = new Date().toISOString();
    const row: WebhooksTable = {
      catalog_name: this.catalogName,
      id: randomUUID(),
      name: spec.name,
      url: spec.url,
      secret: sealSecret(spec.secret),
      min_severity: spec.minSeverity ?? 'info',
      max_attempts: spec.maxAttempts ?? 5,
      enabled: spec.enabled === false ? 0 : 1,
      created_at: now,
      updated_at: now,
    };
    await this.#guard(`webhook ${spec.name}`, () => this.db.insertInto('lakehouse_alert_webhooks').values(row).execute());
    return toWebhook(row);
  }

  /** Replaces a webhook; an absent secret keeps the stored one (secrets are write-only). */
  async replaceWebhook(id: string, spec: Omit<WebhookSpec, 'secret'> & { secret?: string }): Promise<Webhook> {
    const res = await this.#guard(`webhook ${spec.name}`, () =>
      this.db
        .updateTable('lakehouse_alert_webhooks')
        .set({
          name: spec.name,
          url: spec.url,
          ...(spec.secret !== undefined ? { secret: sealSecret(spec.secret) } : {}),
          min_severity: spec.minSeverity ?? 'info',
          max_attempts: spec.maxAttempts ?? 5,
          enabled: spec.enabled === false ? 0 : 1,
          updated_at: new Date().toISOString(),
        })
        .where('catalog_name', '=', this.catalogName)
        .where('id', '=', id)
        .executeTakeFirst(),
    );
    if (Number(res.numUpdatedRows) === 0) throw lakehouseError('NOT_FOUND', `no webhook ${id}`);
    return (await this.getWebhook(id))!;
  }

  async deleteWebhook(id: string): Promise<void> {
    const res = await this.db.deleteFrom('lakehouse_alert_webhooks').where('catalog_name', '=', this.catalogName).where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw lakehouseError('NOT_FOUND', `no webhook ${id}`);
  }

  // ------------------------------------------------------------------------------- silences

  /** Silences still in effect at `now` (all of them when `now` is omitted). */
  async listSilences(now?: number): Promise<Silence[]> {
    let q = this.db.selectFrom('lakehouse_alert_silences').selectAll().where('catalog_name', '=', this.catalogName);
    if (now !== undefined) q = q.where('until_ms', '>', now);
    return (await q.orderBy('created_at').execute()).map(toSilence);
  }

  async createSilence(spec: SilenceSpec): Promise<Silence> {
    const row: SilencesTable = {
      catalog_name: this.catalogName,
      id: randomUUID(),
      matchers: JSON.stringify(spec.matchers),
      until_ms: spec.until,
      comment: spec.comment ?? null,
      created_by: spec.createdBy ?? null,
      created_at: new Date().toISOString(),
    };
    await this.db.insertInto('lakehouse_alert_silences').values(row).execute();
    return toSilence(row);
  }

  async deleteSilence(id: string): Promise<void> {
    const res = await this.db.deleteFrom('lakehouse_alert_silences').where('catalog_name', '=', this.catalogName).where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw lakehouseError('NOT_FOUND', `no silence ${id}`);
  }

  // ---------------------------------------------------------------------------- state, history

  async listStates(): Promise<AlertState[]> {
    const rows = await this.db.selectFrom('lakehouse_alert_state').selectAll().where('catalog_name', '=', this.catalogName).orderBy('alert_key').execute();
    return rows.map(toState);
  }

  async getState(key: string): Promise<AlertState | null> {
    const r = await this.db.selectFrom('lakehouse_alert_state').selectAll().where('catalog_name', '=', this.catalogName).where('alert_key', '=', key).executeTakeFirst();
    return r ? toState(r) : null;
  }

  async putState(s: AlertState): Promise<void> {
    const cols = {
      rule_id: s.ruleId,
      name: s.name,
      state: s.state,
      severity: s.severity,
      labels: JSON.stringify(s.labels),
      value: s.value,
      message: s.message,
      active_since: s.activeSince,
      fired_at: s.firedAt,
      resolved_at: s.resolvedAt,
      updated_at: s.updatedAt,
    };
    await this.db
      .insertInto('lakehouse_alert_state')
      .values({ catalog_name: this.catalogName, alert_key: s.key, ...cols })
      .onConflict((oc) => oc.columns(['catalog_name', 'alert_key']).doUpdateSet(cols))
      .execute();
  }

  async appendHistory(e: Omit<HistoryEntry, 'id'>): Promise<HistoryEntry> {
    const entry: HistoryEntry = { id: uuidV7(), ...e };
    await this.db
      .insertInto('lakehouse_alert_history')
      .values({
        catalog_name: this.catalogName,
        id: entry.id,
        alert_key: entry.key,
        rule_id: entry.ruleId,
        name: entry.name,
        event: entry.event,
        severity: entry.severity,
        labels: JSON.stringify(entry.labels),
        value: entry.value,
        message: entry.message,
        detail: entry.detail === null ? null : JSON.stringify(entry.detail),
        at: entry.at,
      })
      .execute();
    return entry;
  }

  /** Newest first. */
  async listHistory(f: HistoryFilter = {}): Promise<HistoryEntry[]> {
    let q = this.db.selectFrom('lakehouse_alert_history').selectAll().where('catalog_name', '=', this.catalogName);
    if (f.key) q = q.where('alert_key', '=', f.key);
    if (f.ruleId) q = q.where('rule_id', '=', f.ruleId);
    if (f.events?.length) q = q.where('event', 'in', f.events);
    if (f.since !== undefined) q = q.where('at', '>=', f.since);
    const rows = await q.orderBy('at', 'desc').orderBy('id', 'desc').limit(f.limit ?? 100).execute();
    return rows.map(toHistory);
  }
}

/** The alert store over a SqlCatalog's database, or null for other catalogs. */
export function alertStoreFor(catalog: unknown): AlertStore | null {
  const store = sqlStoreOf(catalog);
  return store ? new AlertStore(store.db, store.catalogName) : null;
}
