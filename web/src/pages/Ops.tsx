import { api, ok } from '../api/client';
import { Chart } from '../components/chart';
import { ErrorBox, fmtTime, ObjTable, Progress, useAction, useLoad } from '../components/ui';
import { QualityHistory } from './QualityHistory';

/** Scheduler runs (SQL, maintenance, batch ingestion), alerts and data-quality results. */
export function OpsPage() {
  const schedules = useLoad(() => ok(api.GET('/api/v1/schedules')).then((r) => r.schedules), []);
  const runs = useLoad(() => ok(api.GET('/api/v1/schedules/runs', { params: { query: { limit: 100 } } })).then((r) => r.runs), []);
  const alerts = useLoad(() => ok(api.GET('/api/v1/alerts')).then((r) => r.alerts), []);
  const history = useLoad(() => ok(api.GET('/api/v1/alerts/history')).then((r) => r.history), []);
  const runNow = useAction(async (id: string) => {
    await ok(api.POST('/api/v1/schedules/{id}/run', { params: { path: { id } } }));
    runs.reload();
  });
  const kinds = new Map(schedules.data?.map((s) => [s.id, `${s.name} (${s.kind})`]));
  const finished = (runs.data ?? []).filter((r) => r.startedAt && r.endedAt).reverse();
  const quality = (alerts.data ?? []).filter((a) => a.key.startsWith('check:') || a.key.startsWith('anomaly:'));
  return (
    <div>
      <h1>Operations</h1>
      <section>
        <h2>Schedules</h2>
        {schedules.loading && <Progress label="Loading schedules" />}
        <ErrorBox error={schedules.error} />
        <ErrorBox error={runNow.error} />
        {schedules.data && (
          <ObjTable
            caption="schedules (maintenance, SQL, batch ingestion)"
            items={schedules.data.map((s) => ({ id: s.id, name: s.name, kind: s.kind, cron: s.cron ?? `every ${s.intervalSeconds} s`, enabled: s.enabled, nextRunAt: fmtTime(s.nextRunAt) }))}
            keys={['name', 'kind', 'cron', 'enabled', 'nextRunAt']}
            actions={(s) => (
              <button type="button" disabled={runNow.busy} onClick={() => void runNow.run(s.id)} aria-label={`run ${s.name} now`}>
                Run now
              </button>
            )}
          />
        )}
      </section>
      <section>
        <h2>Runs</h2>
        <ErrorBox error={runs.error} />
        {finished.length > 1 && (
          <Chart kind="bar" columns={[{ name: 'started' }, { name: 'duration s' }, { name: 'rows' }]} rows={finished.map((r) => [fmtTime(r.startedAt).slice(11, 19), (Date.parse(r.endedAt!) - Date.parse(r.startedAt!)) / 1000, r.rowsAffected ?? 0])} />
        )}
        {runs.data && (
          <ObjTable
            caption="recent runs"
            items={runs.data.map((r) => ({ schedule: kinds.get(r.scheduleId) ?? r.scheduleId, status: r.status, trigger: r.trigger, scheduledFor: fmtTime(r.scheduledFor), startedAt: fmtTime(r.startedAt), endedAt: fmtTime(r.endedAt), rows: r.rowsAffected, files: r.filesAffected, error: r.error ?? '' }))}
            keys={['schedule', 'status', 'trigger', 'scheduledFor', 'startedAt', 'endedAt', 'rows', 'files', 'error']}
          />
        )}
      </section>
      <section>
        <h2>Alerts</h2>
        <ErrorBox error={alerts.error} />
        {alerts.data && <ObjTable caption="alerts" items={alerts.data.map((a) => ({ name: a.name, state: a.state, severity: a.severity, value: a.value, message: a.message ?? '', since: fmtTime(a.activeSince) }))} keys={['name', 'state', 'severity', 'value', 'message', 'since']} />}
        <h2>Data quality</h2>
        <ObjTable caption="quality checks and anomalies" items={quality.map((a) => ({ key: a.key, state: a.state, severity: a.severity, message: a.message ?? '', updated: fmtTime(a.updatedAt) }))} keys={['key', 'state', 'severity', 'message', 'updated']} />
        <details>
          <summary>Alert history</summary>
          <ErrorBox error={history.error} />
          {history.data && <ObjTable caption="alert history" items={history.data.map((h) => ({ at: fmtTime(h.at), key: h.key, event: h.event }))} keys={['at', 'key', 'event']} />}
        </details>
      </section>
      <QualityHistory />
    </div>
  );
}
