import { lazy, Suspense, useEffect, useState } from 'react';
import { api, ok, session, setUnauthorizedHandler, type Principal } from './api/client';
import { ErrorBox, Field, Progress } from './components/ui';
import { CatalogPage } from './pages/Catalog';
import { completeLogin, fetchAuthConfig, startLogin, type ConsoleOidc } from './oidc';

// Less used pages load on demand: the first paint only needs sign-in and the catalog.
const SqlPage = lazy(() => import('./pages/Sql').then((m) => ({ default: m.SqlPage })));
const JobsPage = lazy(() => import('./pages/Jobs').then((m) => ({ default: m.JobsPage })));
const OpsPage = lazy(() => import('./pages/Ops').then((m) => ({ default: m.OpsPage })));
const AdminPage = lazy(() => import('./pages/Admin').then((m) => ({ default: m.AdminPage })));

/** The route is the URL hash: #/catalog, #/table/<ns>/<table>, #/sql, #/jobs, #/ops, #/admin. */
function useHash(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const f = () => setHash(location.hash);
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
}

const NAV: [string, string][] = [
  ['catalog', 'Catalog'],
  ['sql', 'SQL'],
  ['jobs', 'Ingestion'],
  ['ops', 'Operations'],
  ['admin', 'Admin'],
];

export function App() {
  const [me, setMe] = useState<Principal | null>(null);
  // A load that is the identity provider's redirect back (?code|error&state) is a sign-in in progress.
  const [checking, setChecking] = useState(session.key() !== null || new URLSearchParams(location.search).has('state'));
  const [notice, setNotice] = useState<string | null>(null);
  const [signInError, setSignInError] = useState<unknown>(null);
  const route = useHash();

  useEffect(() => {
    setUnauthorizedHandler(() => {
      session.clear();
      setMe(null);
      setNotice('Your API key or token was refused (expired or revoked). Sign in again.');
    });
    completeLogin()
      .then(async (token) => {
        if (token) session.set(token);
        if (session.key() === null) return;
        try {
          setMe(await ok(api.GET('/api/v1/security/whoami')));
        } catch (err) {
          session.clear();
          // A fresh token the service refuses (wrong audience, unknown issuer) is worth explaining.
          if (token) setSignInError(err);
        }
      })
      .catch((err) => setSignInError(err))
      .finally(() => setChecking(false));
  }, []);

  if (checking) return <Progress label="Checking your session" />;
  if (!me)
    return (
      <SignIn
        notice={notice}
        initialError={signInError}
        onSignedIn={(p) => {
          setNotice(null);
          setSignInError(null);
          setMe(p);
        }}
      />
    );

  const page = route[0] ?? 'catalog';
  return (
    <div className="app">
      <header className="top">
        <a className="brand" href="#/catalog">
          lakehouse
        </a>
        <nav aria-label="Main">
          {NAV.map(([id, label]) => (
            <a key={id} href={`#/${id}`} aria-current={page === id || (page === 'table' && id === 'catalog') ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span className="who" data-testid="whoami">
          {me.principal} <small>({me.roles.join(', ') || 'no roles'})</small>
        </span>
        <button
          type="button"
          onClick={() => {
            session.clear();
            setMe(null);
            // Only this tab forgets the credential: a provider session stays, so say so.
            setNotice('Signed out: this tab no longer holds your API key or token. (A session at the identity provider stays open until you end it there.)');
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main">
        <Suspense fallback={<Progress label="Loading page" />}>
          {page === 'sql' ? (
            <SqlPage />
          ) : page === 'jobs' ? (
            <JobsPage jobId={route[1]} />
          ) : page === 'ops' ? (
            <OpsPage />
          ) : page === 'admin' ? (
            <AdminPage />
          ) : (
            <CatalogPage table={page === 'table' && route[2] ? { namespace: route[1], name: route[2] } : null} />
          )}
        </Suspense>
      </main>
    </div>
  );
}

function SignIn({ onSignedIn, notice, initialError }: { onSignedIn: (p: Principal) => void; notice: string | null; initialError: unknown }) {
  // Every credential travels as `Authorization: Bearer`: an API key, a JWT from the configured
  // OIDC provider obtained by the redirect sign-in (src/oidc.ts), or one pasted (e.g. from the provider's CLI).
  const [mode, setMode] = useState<'key' | 'oidc'>('key');
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(initialError);
  const [oidc, setOidc] = useState<ConsoleOidc | null>(null);
  const [redirecting, setRedirecting] = useState(false);
  useEffect(() => {
    fetchAuthConfig().then(setOidc, setError);
  }, []);
  return (
    <main className="signin">
      <h1>lakehouse console</h1>
      {oidc && (
        <div className="oidc-signin">
          <button
            type="button"
            disabled={redirecting}
            onClick={() => {
              setRedirecting(true);
              setError(null);
              startLogin(oidc).catch((err) => {
                setRedirecting(false);
                setError(err);
              });
            }}
          >
            Sign in with OIDC
          </button>
          <small>at {new URL(oidc.issuer).host}, or with a key or token below</small>
          {redirecting && <Progress label="Redirecting to the identity provider" />}
        </div>
      )}
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          session.set(key.trim());
          try {
            onSignedIn(await ok(api.GET('/api/v1/security/whoami')));
          } catch (err) {
            session.clear();
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        {notice && <p className="notice">{notice}</p>}
        <div role="tablist" aria-label="Credential" className="row">
          {(
            [
              ['key', 'API key'],
              ['oidc', 'OIDC token'],
            ] as const
          ).map(([m, label]) => (
            <button
              key={m}
              type="button"
              role="tab"
              aria-selected={mode === m}
              onClick={() => {
                setMode(m);
                setKey('');
                setError(null);
              }}
            >
              {label}
            </button>
          ))}
        </div>
        {mode === 'key' ? (
          <Field label="API key" hint="lhk_… — the admin key is printed once at the first start; admins create more under Admin → API keys. Kept only in this browser tab.">
            <input type="password" autoComplete="off" required autoFocus value={key} onChange={(e) => setKey(e.target.value)} name="apiKey" />
          </Field>
        ) : (
          <Field label="Identity provider token" hint="A JWT (access or ID token) from the configured OIDC issuer, for this service's audience. Kept only in this browser tab until it expires.">
            <textarea autoComplete="off" required autoFocus rows={4} spellCheck={false} value={key} onChange={(e) => setKey(e.target.value)} name="oidcToken" />
          </Field>
        )}
        <button type="submit" disabled={busy || key.trim() === ''}>
          Sign in
        </button>
        {busy && <Progress label="Signing in" />}
        <ErrorBox error={error} />
      </form>
    </main>
  );
}
