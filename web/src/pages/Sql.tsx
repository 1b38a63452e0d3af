import { Fragment, useRef, useState, type ReactNode } from 'react';
import { api, ApiError, headers, ok, raw, toApiError } from '../api/client';
import { Chart } from '../components/chart';
import { ErrorBox, fmtTime, Grid, Progress, useLoad } from '../components/ui';

const PAGE = 100;
const KEYWORDS =
  'select|from|where|group|by|order|limit|offset|having|join|left|right|inner|outer|full|cross|on|as|and|or|not|in|is|null|like|between|case|when|then|else|end|distinct|union|all|with|insert|into|values|update|set|delete|merge|using|matched|create|table|drop|alter|asc|desc|true|false|cast|count|sum|avg|min|max|for|version|timestamp|of';
const TOKEN = new RegExp(`(--[^\\n]*)|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|\\b(\\d+(?:\\.\\d+)?)\\b|\\b(${KEYWORDS})\\b`, 'gi');

/** SQL → highlighted spans (drawn under a transparent textarea, which keeps native editing). */
function highlight(text: string) {
  const out: ReactNode[] = [];
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    out.push(text.slice(last, m.index));
    const cls = m[1] ? 'c' : m[2] ? 's' : m[3] ? 'i' : m[4] ? 'n' : 'k';
    out.push(
      <span key={m.index} className={`t-${cls}`}>
        {m[0]}
      </span>,
    );
    last = m.index + m[0].length;
  }
  out.push(`${text.slice(last)}\n`);
  return out;
}

type Page = { columns: { name: string; type: string }[]; rows: unknown[][]; rowCount: number; truncated: boolean; nextPageToken?: string };

export function SqlPage() {
  const [text, setText] = useState(() => sessionStorage.getItem('lakehouse.sql') ?? 'SELECT 1 AS one');
  const [queryId, setQueryId] = useState<string | null>(null);
  const [running, setRunning] = useState<{ id: string | null; progress: number | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [page, setPage] = useState<Page | null>(null);
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined]);
  const [pageNo, setPageNo] = useState(0);
  const [stats, setStats] = useState<string>('');
  const [chart, setChart] = useState<'line' | 'bar' | null>(null);
  const [downloading, setDownloading] = useState(false);
  const cancelled = useRef(false);
  const history = useLoad(() => ok(api.GET('/api/v1/queries', { params: { query: { limit: 20 } } })).then((r) => r.queries), [queryId]);
  const preRef = useRef<HTMLPreElement>(null);

  async function loadPage(id: string, n: number, token: string | undefined) {
    const r = (await ok(api.GET('/api/v1/queries/{id}/results', { params: { path: { id }, query: { pageSize: PAGE, ...(token ? { pageToken: token } : {}) } } }))) as Page;
    setPage(r);
    setPageNo(n);
    setTokens((ts) => {
      const next = ts.slice(0, n + 1);
      next[n + 1] = r.nextPageToken;
      return next;
    });
  }

  async function run() {
    sessionStorage.setItem('lakehouse.sql', text);
    cancelled.current = false;
    setError(null);
    setPage(null);
    setChart(null);
    setStats('');
    setRunning({ id: null, progress: null });
    try {
      const sub = (await ok(api.POST('/api/v1/queries', { body: { sql: text, async: true } }))) as unknown as { queryId: string };
      const id = sub.queryId;
      setQueryId(id);
      setRunning({ id, progress: null });
      for (;;) {
        const st = await ok(api.GET('/api/v1/queries/{id}', { params: { path: { id } } }));
        if (st.state === 'succeeded') {
          const s = st.stats;
          setStats(`${st.rowCount ?? 0} rows${st.truncated ? ' (truncated)' : ''} in ${st.durationMs ?? '?'} ms${s ? ` · ${s.filesScanned} files scanned, ${s.filesPruned} pruned` : ''}`);
          await loadPage(id, 0, undefined);
          break;
        }
        if (st.state === 'failed') throw new ApiError(0, st.error?.code ?? 'QUERY_FAILED', st.error?.message ?? 'query failed');
        if (st.state === 'cancelled') {
          setStats('cancelled');
          break;
        }
        setRunning({ id, progress: st.progress });
        await new Promise((r) => setTimeout(r, 150));
      }
    } catch (e) {
      setError(e);
    } finally {
      setRunning(null);
      history.reload();
    }
  }

  async function cancel() {
    if (!running?.id) return;
    cancelled.current = true;
    try {
      await raw(`/api/v1/queries/${running.id}`, { method: 'DELETE' });
    } catch (e) {
      setError(e);
    }
  }

  async function downloadCsv() {
    if (!queryId) return;
    setDownloading(true);
    try {
      const parts: string[] = [];
      let token: string | null = null;
      do {
        const res: Response = await fetch(`/api/v1/queries/${queryId}/results?pageSize=100000${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`, { headers: headers({ accept: 'text/csv' }) });
        if (!res.ok) throw toApiError(res.status, await res.json().catch(() => null));
        parts.push(await res.text());
        token = res.headers.get('x-next-page-token');
      } while (token);
      const url = URL.createObjectURL(new Blob(parts, { type: 'text/csv' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `query-${queryId}.csv`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(e);
    } finally {
      setDownloading(false);
    }
  }

  /** One Parquet file of the result (typed columns); pages cannot be concatenated, so up to one page of 100000 rows. */
  async function downloadParquet() {
    if (!queryId) return;
    setDownloading(true);
    try {
      const res = await fetch(`/api/v1/queries/${queryId}/results?pageSize=100000`, { headers: headers({ accept: 'application/vnd.apache.parquet' }) });
      if (!res.ok) throw toApiError(res.status, await res.json().catch(() => null));
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = `query-${queryId}.parquet`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      if (res.headers.get('x-next-page-token')) setError(new Error('The Parquet file holds the first 100000 rows only; use the API with Arrow IPC pages for the rest.'));
    } catch (e) {
      setError(e);
    } finally {
      setDownloading(false);
    }
  }

  const pages = page ? Math.max(1, Math.ceil(page.rowCount / PAGE)) : 0;
  return (
    <div className="sql-page">
      <h1>SQL</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <label htmlFor="sql-text" className="field">
          <span>Statement (Ctrl+Enter runs; tables as namespace.table)</span>
        </label>
        <div className="editor">
          <pre ref={preRef} aria-hidden="true">
            {highlight(text)}
          </pre>
          <textarea
            id="sql-text"
            name="sql"
            spellCheck={false}
            value={text}
            onChange={(e) => setText(e.target.value)}
            onScroll={(e) => {
              if (preRef.current) {
                preRef.current.scrollTop = e.currentTarget.scrollTop;
                preRef.current.scrollLeft = e.currentTarget.scrollLeft;
              }
            }}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                if (!running) void run();
              }
            }}
          />
        </div>
        <div className="toolbar">
          <button type="submit" disabled={!!running}>
            Run
          </button>
          <button type="button" disabled={!running?.id} onClick={() => void cancel()}>
            Cancel
          </button>
          <button type="button" disabled={!page || downloading} onClick={() => void downloadCsv()}>
            Download CSV
          </button>
          <button type="button" disabled={!page || downloading} onClick={() => void downloadParquet()}>
            Download Parquet
          </button>
          <button type="button" disabled={!page} aria-pressed={chart === 'line'} onClick={() => setChart(chart === 'line' ? null : 'line')}>
            Line chart
          </button>
          <button type="button" disabled={!page} aria-pressed={chart === 'bar'} onClick={() => setChart(chart === 'bar' ? null : 'bar')}>
            Bar chart
          </button>
        </div>
      </form>
      {running && <Progress label={running.progress == null ? 'Running query' : `Running query: ${running.progress.toFixed(0)}%`} value={running.progress} />}
      {downloading && <Progress label="Preparing the download" />}
      <ErrorBox error={error} />
      {stats && (
        <p className="muted" role="status" data-testid="query-stats">
          {stats}
        </p>
      )}
      {page && chart && <Chart kind={chart} columns={page.columns} rows={page.rows} />}
      {page && (
        <>
          <Grid columns={page.columns} rows={page.rows} caption="query result" firstRow={pageNo * PAGE} />
          <nav className="pager" aria-label="result pages">
            <button type="button" disabled={pageNo === 0} onClick={() => void loadPage(queryId!, pageNo - 1, tokens[pageNo - 1]).catch(setError)}>
              Previous page
            </button>
            <span>
              Page {pageNo + 1} of {pages}
            </span>
            <button type="button" disabled={!tokens[pageNo + 1]} onClick={() => void loadPage(queryId!, pageNo + 1, tokens[pageNo + 1]).catch(setError)}>
              Next page
            </button>
          </nav>
        </>
      )}
      <section>
        <h2>History</h2>
        <ErrorBox error={history.error} />
        <ul className="history">
          {history.data?.map((q) => (
            <li key={q.queryId}>
              <button type="button" className="link" onClick={() => setText(q.sql)} title="Put this statement in the editor">
                <code>{q.sql.length > 120 ? `${q.sql.slice(0, 120)}…` : q.sql}</code>
              </button>{' '}
              <small className={`state-${q.state}`}>
                {q.state} · {fmtTime(q.submittedAt)}
                {q.rowCount != null && <Fragment> · {q.rowCount} rows</Fragment>}
                {q.durationMs != null && <Fragment> · {q.durationMs} ms</Fragment>}
                {q.error && <Fragment> · {q.error.code}: {q.error.message}</Fragment>}
              </small>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}
