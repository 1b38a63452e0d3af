import { cloneElement, useCallback, useEffect, useId, useRef, useState, type ReactElement, type ReactNode } from 'react';
import { ApiError } from '../api/client';

/** An error with the service's code and message (role=alert: screen readers announce it). */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : null;
  return (
    <div className="error" role="alert">
      {e ? (
        <>
          <strong>
            {e.type}
            {e.status ? ` (${e.status})` : ''}
          </strong>{' '}
          {e.message}
        </>
      ) : (
        <>{String((error as Error)?.message ?? error)}</>
      )}
    </div>
  );
}

/** Indeterminate (value undefined) or percent progress for long actions. */
export function Progress({ label, value }: { label: string; value?: number | null }) {
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={value ?? undefined}>
      <div className={value == null ? 'bar indeterminate' : 'bar'} style={value == null ? undefined : { width: `${Math.max(2, value)}%` }} />
      <span>{label}</span>
    </div>
  );
}

/** Loads data on mount and when deps change; `reload` re-runs it. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // The caller's deps decide when to reload (load itself is a fresh closure every render).
  }, [...deps, tick]);
  return { data: state.data, error: state.error, loading: state.loading, reload: useCallback(() => setTick((t) => t + 1), []) };
}

/** Runs an action with a busy flag and its error; returns a wrapped trigger. */
export function useAction<A extends unknown[]>(f: (...args: A) => Promise<void>): { run: (...args: A) => Promise<void>; busy: boolean; error: unknown; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const fn = useRef(f);
  fn.current = f;
  const run = useCallback(async (...args: A) => {
    setBusy(true);
    setError(null);
    try {
      await fn.current(...args);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }, []);
  return { run, busy, error, clear: () => setError(null) };
}

/** Polls while mounted. */
export function useInterval(f: () => void, ms: number | null): void {
  const fn = useRef(f);
  fn.current = f;
  useEffect(() => {
    if (ms === null) return;
    const id = setInterval(() => fn.current(), ms);
    return () => clearInterval(id);
  }, [ms]);
}

export function cell(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function Grid({ columns, rows, caption, firstRow = 0 }: { columns: { name: string; type?: string }[]; rows: unknown[][]; caption?: string; firstRow?: number }) {
  return (
    <div className="grid-wrap" tabIndex={0} aria-label={caption ?? 'result'}>
      <table className="grid">
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>
            <th scope="col" className="rownum">
              #
            </th>
            {columns.map((c, i) => (
              <th scope="col" key={i} title={c.type}>
                {c.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              <td className="rownum">{firstRow + i + 1}</td>
              {r.map((v, j) => (
                <td key={j} className={v === null ? 'null' : typeof v === 'number' ? 'num' : undefined}>
                  {cell(v)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p className="muted">No rows.</p>}
    </div>
  );
}

/** A small table of objects with chosen keys. */
export function ObjTable<T extends object>({ items, keys, caption, actions }: { items: T[]; keys: (keyof T & string)[]; caption: string; actions?: (item: T) => ReactNode }) {
  return (
    <div className="grid-wrap">
      <table className="grid">
        <caption>{caption}</caption>
        <thead>
          <tr>
            {keys.map((k) => (
              <th scope="col" key={k}>
                {k}
              </th>
            ))}
            {actions && <th scope="col">actions</th>}
          </tr>
        </thead>
        <tbody>
          {items.map((it, i) => (
            <tr key={i}>
              {keys.map((k) => (
                <td key={k}>{cell((it as Record<string, unknown>)[k])}</td>
              ))}
              {actions && <td className="actions">{actions(it)}</td>}
            </tr>
          ))}
        </tbody>
      </table>
      {items.length === 0 && <p className="muted">None.</p>}
    </div>
  );
}

/** A labelled control; the hint is its description (not part of its accessible name). */
export function Field({ label, children, hint }: { label: string; children: ReactElement<{ id?: string; 'aria-describedby'?: string }>; hint?: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id, 'aria-describedby': hint ? `${id}-hint` : undefined })}
      {hint && (
        <small className="muted" id={`${id}-hint`}>
          {hint}
        </small>
      )}
    </div>
  );
}

export function fmtTime(ms: number | string | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
