import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ENV_VARS } from '../../src/config.js';

// Static checks of deploy/: what can be verified without Docker or a Kubernetes cluster.
// `helm lint`/`helm template` run when a helm binary is on PATH (or HELM_BIN); otherwise the chart
// gets a structural check only. The systemd unit goes through `systemd-analyze verify` when present.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const CHART = join(DEPLOY, 'helm/lakehouse');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

function which(cmd: string): string | null {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

const KNOWN_ENV = new Set([...Object.keys(ENV_VARS), 'LAKEHOUSE_CONFIG', 'LAKEHOUSE_SCHEDULER', 'LAKEHOUSE_QUERY_MEMORY_LIMIT', 'PORT']);

describe('Dockerfile', () => {
  const text = read('deploy/Dockerfile');
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('copies only files that exist in the build context (the repository root)', () => {
    const copies = lines.filter((l) => /^COPY\s/i.test(l) && !/--from=/i.test(l));
    expect(copies.length).toBeGreaterThan(0);
    for (const l of copies) {
      const args = l.split(/\s+/).slice(1).filter((a) => !a.startsWith('--'));
      for (const src of args.slice(0, -1)) expect(existsSync(join(ROOT, src)), `${l}: ${src}`).toBe(true);
    }
  });

  it('does not ignore what it copies', () => {
    const ignored = read('deploy/Dockerfile.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'bin', 'web', 'openapi.json', 'scripts/build-web.mjs']) {
      expect(ignored, needed).not.toContain(needed);
    }
    expect(ignored).toContain('**/node_modules');
  });

  it('builds the web console and ships web/dist in the runtime stage', () => {
    expect(lines).toContain('RUN node scripts/build-web.mjs');
    expect(lines).toContain('COPY --from=build /app/web/dist ./web/dist');
  });

  it('is multi-stage: npm ci + tsc, then node:20-bookworm-slim as a non-root user', () => {
    const froms = lines.filter((l) => /^FROM\s/i.test(l));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/ARG RUNTIME_IMAGE=node:20-bookworm-slim/);
    expect(text).toMatch(/RUN npm ci\b/);
    expect(text).toMatch(/tsc -p tsconfig\.build\.json/);
    const users = lines.filter((l) => /^USER\s/i.test(l));
    const last = users[users.length - 1]?.split(/\s+/)[1] ?? 'root';
    expect(last.split(':')[0]).not.toMatch(/^(root|0)$/);
    // The last USER comes after the last FROM (it applies to the runtime stage).
    expect(lines.lastIndexOf(users[users.length - 1])).toBeGreaterThan(lines.lastIndexOf(froms[froms.length - 1]));
  });

  it('exposes 8181, listens on all interfaces, has a /health HEALTHCHECK and a warehouse volume', () => {
    expect(lines).toContain('EXPOSE 8181');
    expect(text).toMatch(/LAKEHOUSE_HOST=0\.0\.0\.0/);
    expect(lines.find((l) => l.startsWith('HEALTHCHECK'))).toMatch(/\/health/);
    expect(lines.find((l) => l.startsWith('VOLUME'))).toMatch(/warehouse/);
    expect(lines.find((l) => l.startsWith('ENTRYPOINT'))).toMatch(/bin\/lakehouse\.js/);
  });
});

describe('compose.yaml', () => {
  const compose = parse(read('deploy/compose.yaml'), { merge: true });

  it('parses and wires two lakehouse instances to PostgreSQL 16, MinIO and Kafka 4 (KRaft)', () => {
    const s = compose.services;
    expect(Object.keys(s)).toEqual(expect.arrayContaining(['lakehouse-1', 'lakehouse-2', 'lb', 'postgres', 'minio', 'minio-init', 'kafka']));
    expect(s.postgres.image).toMatch(/^postgres:16/);
    expect(s.kafka.image).toMatch(/^apache\/kafka:4\./);
    expect(s.kafka.environment.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(s.kafka.environment.KAFKA_CONTROLLER_QUORUM_VOTERS).toMatch(/@kafka:9093$/);
    for (const name of ['lakehouse-1', 'lakehouse-2']) {
      const svc = s[name];
      expect(existsSync(join(DEPLOY, svc.build.context, svc.build.dockerfile))).toBe(true);
      expect(svc.environment.LAKEHOUSE_CATALOG_URL).toMatch(/^postgres:\/\/.+@postgres:5432\//);
      expect(svc.environment.LAKEHOUSE_WAREHOUSE).toMatch(/^s3:\/\//);
      expect(svc.environment.LAKEHOUSE_S3_ENDPOINT).toBe('http://minio:9000');
      for (const k of Object.keys(svc.environment)) expect(KNOWN_ENV.has(k), k).toBe(true);
    }
  });

  it('points nginx at both instances', () => {
    const mount = compose.services.lb.volumes[0].split(':')[0];
    const conf = readFileSync(join(DEPLOY, mount), 'utf8');
    expect(conf).toMatch(/server lakehouse-1:8181/);
    expect(conf).toMatch(/server lakehouse-2:8181/);
  });
});

/** `.Values.a.b.c` references in the chart's templates. */
function valuesRefs(): { file: string; path: string[] }[] {
  const out: { file: string; path: string[] }[] = [];
  const dir = join(CHART, 'templates');
  for (const file of readdirSync(dir)) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const m of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) out.push({ file, path: m[1].slice(1).split('.') });
  }
  return out;
}

describe('Helm chart', () => {
  const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'));
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));

  it('has a v2 Chart.yaml and parseable values', () => {
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'lakehouse', type: 'application' });
    expect(values.probes.liveness.path).toBe('/health');
    expect(values.probes.readiness.path).toBe('/ready');
  });

  it('every .Values path used by a template exists in values.yaml', () => {
    const refs = valuesRefs();
    expect(refs.length).toBeGreaterThan(20);
    for (const { file, path } of refs) {
      let v: unknown = values;
      for (const k of path) {
        expect(v !== null && typeof v === 'object' && k in (v as object), `${file}: .Values.${path.join('.')}`).toBe(true);
        v = (v as Record<string, unknown>)[k];
      }
    }
  });

  it('only sets LAKEHOUSE_* variables that the service reads', () => {
    for (const f of ['configmap.yaml', 'secret.yaml']) {
      const text = readFileSync(join(CHART, 'templates', f), 'utf8');
      for (const m of text.matchAll(/^\s*(LAKEHOUSE_[A-Z0-9_]+):/gm)) expect(KNOWN_ENV.has(m[1]), `${f}: ${m[1]}`).toBe(true);
    }
  });

  const helm = which(process.env.HELM_BIN ?? 'helm');
  it.skipIf(!helm)('passes helm lint and renders (defaults; ingress + HPA + persistence on)', () => {
    const lint = spawnSync(helm!, ['lint', CHART], { encoding: 'utf8' });
    expect(lint.status, lint.stdout + lint.stderr).toBe(0);
    const render = (extra: string[]) => {
      const r = spawnSync(helm!, ['template', 'lh', CHART, ...extra], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return parseAllDocuments(r.stdout)
        .map((d) => d.toJS())
        .filter(Boolean) as { kind: string; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> }[];
    };
    const plain = render([]);
    expect(plain.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Secret', 'Service']);
    const dep = plain.find((d) => d.kind === 'Deployment')!;
    const c = dep.spec.template.spec.containers[0];
    expect(c.livenessProbe.httpGet.path).toBe('/health');
    expect(c.readinessProbe.httpGet.path).toBe('/ready');
    expect(dep.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(plain.find((d) => d.kind === 'ConfigMap')!.data!.LAKEHOUSE_HOST).toBe('0.0.0.0');
    expect(plain.find((d) => d.kind === 'Secret')!.stringData!.LAKEHOUSE_CATALOG_URL).toMatch(/^postgres:\/\//);

    const full = render(['--set', 'ingress.enabled=true', '--set', 'autoscaling.enabled=true', '--set', 'persistence.enabled=true', '--set', 'secrets.existingSecret=lh-secrets']);
    expect(full.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'PersistentVolumeClaim', 'Service']);
    const dep2 = full.find((d) => d.kind === 'Deployment')!;
    expect(dep2.spec.replicas).toBeUndefined();
    expect(dep2.spec.template.spec.containers[0].envFrom[1].secretRef.name).toBe('lh-secrets');
  });
});

describe('systemd unit', () => {
  const unit = read('deploy/systemd/lakehouse.service');
  const directives = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1].trim());

  it('is hardened, restarts on failure and reads an EnvironmentFile', () => {
    expect(directives('ProtectSystem')).toEqual(['strict']);
    expect(directives('ReadWritePaths').join(' ')).toMatch(/\/var\/lib\/lakehouse/);
    expect(directives('Restart')).toEqual(['on-failure']);
    expect(directives('EnvironmentFile').length).toBe(1);
    expect(directives('NoNewPrivileges')).toEqual(['yes']);
    const user = directives('User')[0];
    expect(directives('DynamicUser')[0] === 'yes' || (user !== undefined && !/^(root|0)$/.test(user))).toBe(true);
    expect(directives('ExecStart')[0]).toMatch(/bin\/lakehouse\.js serve$/);
  });

  const analyze = which('systemd-analyze');
  it.skipIf(!analyze)('passes systemd-analyze verify', () => {
    // Verify a copy whose ExecStart points at this checkout (the unit's /opt/lakehouse path and
    // /usr/bin/node need not exist on the test machine).
    const dir = mkdtempSync(join(tmpdir(), 'lh-unit-'));
    try {
      const copy = unit
        .replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${join(ROOT, 'bin/lakehouse.js')} serve`)
        .replace(/^WorkingDirectory=.*$/m, `WorkingDirectory=${ROOT}`);
      const file = join(dir, 'lakehouse.service');
      writeFileSync(file, copy);
      const r = spawnSync(analyze!, ['verify', file], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect((r.stdout + r.stderr).trim()).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
