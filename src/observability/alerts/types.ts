/**
 * The vocabulary of alerting: threshold rules over Prometheus metric families, label matchers
 * (Prometheus/Alertmanager style), silences, alert states and history events.
 */
export type Severity = 'info' | 'warning' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];
export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);

export type MatchOp = '=' | '!=' | '=~' | '!~';
export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
}

/** How the series a rule selects are reduced to one value. */
export type Aggregation = 'sum' | 'avg' | 'min' | 'max' | 'count';
export const AGGREGATIONS: readonly Aggregation[] = ['sum', 'avg', 'min', 'max', 'count'];
export type Comparison = '>' | '>=' | '<' | '<=' | '==' | '!=';
/**
 * What is compared: the aggregated value itself; its per-second `rate` of change since the
 * previous evaluation (counters: error rate, with resets handled; gauges: growth, e.g. of
 * `lakehouse_warehouse_bytes`, negative when shrinking); or its `age` — now minus the value read
 * as a Unix time in seconds (freshness from a last-commit timestamp gauge).
 */
export type RuleFunction = 'value' | 'rate' | 'age';
export const RULE_FUNCTIONS: readonly RuleFunction[] = ['value', 'rate', 'age'];

/** A second selection the value is divided by (error ratio = rate(errors) / rate(requests)). */
export interface Denominator {
  metric: string;
  matchers?: Matcher[];
  aggregation?: Aggregation;
}
export const COMPARISONS: readonly Comparison[] = ['>', '>=', '<', '<=', '==', '!='];

export interface RuleSpec {
  name: string;
  description?: string | null;
  /**
   * A metric name as exposed: a family (`lakehouse_catalog_commits_total`) or one of a
   * histogram's series (`http_request_duration_seconds_count`, `…_sum`, `…_bucket`).
   */
  metric: string;
  matchers?: Matcher[];
  aggregation?: Aggregation;
  /** Applied to numerator and denominator alike. Default 'value'. */
  fn?: RuleFunction;
  /** When set, the rule's value is numerator / denominator (no value when the denominator is 0). */
  denominator?: Denominator | null;
  comparison: Comparison;
  threshold: number;
  /** The condition must hold this long (pending) before the alert fires. 0 fires at once. */
  forMs?: number;
  severity?: Severity;
  /** Extra labels carried by the alert (for silences and receivers). */
  labels?: Record<string, string>;
  enabled?: boolean;
}

export interface Rule extends Required<Omit<RuleSpec, 'description' | 'denominator'>> {
  id: string;
  description: string | null;
  denominator: Denominator | null;
  createdAt: string;
  updatedAt: string;
}

export type AlertStateName = 'inactive' | 'pending' | 'firing';

export interface AlertState {
  /** `rule:<id>`, or `anomaly:<table>:<metric>` for data-quality anomalies. */
  key: string;
  ruleId: string | null;
  name: string;
  state: AlertStateName;
  severity: Severity;
  labels: Record<string, string>;
  value: number | null;
  message: string | null;
  /** When the condition started to hold (pending or firing since). */
  activeSince: number | null;
  firedAt: number | null;
  resolvedAt: number | null;
  updatedAt: number;
}

export type HistoryEvent = 'pending' | 'firing' | 'resolved' | 'silenced' | 'delivered' | 'delivery-failed';

export interface HistoryEntry {
  id: string;
  key: string;
  ruleId: string | null;
  name: string;
  event: HistoryEvent;
  severity: Severity;
  labels: Record<string, string>;
  value: number | null;
  message: string | null;
  /** Delivery outcome (receiver, attempts, last error) for delivered / delivery-failed. */
  detail: Record<string, unknown> | null;
  at: number;
}

export interface SilenceSpec {
  matchers: Matcher[];
  /** Silence ends at this time (ms). */
  until: number;
  comment?: string | null;
  createdBy?: string | null;
}

export interface Silence extends SilenceSpec {
  id: string;
  comment: string | null;
  createdBy: string | null;
  createdAt: string;
}

export interface WebhookSpec {
  name: string;
  url: string;
  /** HMAC-SHA256 key for the signature header; write-only through the API. */
  secret: string;
  /** Alerts below this severity are not sent here. */
  minSeverity?: Severity;
  /** Attempts in all (first included) before giving up. */
  maxAttempts?: number;
  enabled?: boolean;
}

export interface Webhook extends Required<WebhookSpec> {
  id: string;
  createdAt: string;
  updatedAt: string;
}

/** What a notification carries: the alert after a transition to firing or resolved. */
export interface Notification {
  status: 'firing' | 'resolved';
  alert: AlertState;
  at: number;
}

function regexOf(value: string): RegExp {
  // Prometheus regex matchers are fully anchored.
  return new RegExp(`^(?:${value})$`);
}

export function validateMatchers(matchers: Matcher[]): void {
  for (const m of matchers) {
    if (m.op === '=~' || m.op === '!~') regexOf(m.value); // throws SyntaxError on a bad pattern
  }
}

/** True when every matcher accepts the labels (an absent label reads as ''). */
export function matchesAll(matchers: Matcher[], labels: Record<string, string | number>): boolean {
  return matchers.every((m) => {
    const v = labels[m.name] === undefined ? '' : String(labels[m.name]);
    switch (m.op) {
      case '=':
        return v === m.value;
      case '!=':
        return v !== m.value;
      case '=~':
        return regexOf(m.value).test(v);
      case '!~':
        return !regexOf(m.value).test(v);
    }
  });
}
