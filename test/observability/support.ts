// Helpers for the observability suite: the shipped dashboards and alert rules as data, Grafana
// template substitution, the metric catalog as the code defines it, external binaries
// (prometheus, promtool) with the skip-locally / fail-in-CI policy, and a real Prometheus server
// on 127.0.0.1 in a temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { OperatorMetrics } from '../../operator/metrics.ts';
import { SidecarMetrics } from '../../sidecar/metrics.ts';
import { Sidecar } from '../../sidecar/sidecar.ts';
import type { Journal } from '../../sidecar/events/journal.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const DASHBOARD_DIR = join(ROOT, 'charts/airoute/dashboards');
export const RULES_FILE = join(ROOT, 'charts/airoute/alerts/airoute.rules.yaml');
export const RULE_TESTS_DIR = join(ROOT, 'charts/airoute/alerts/tests');

/** CI installs the binaries (.ci/apt-packages); a developer machine may not have them. */
export const IN_CI = !!process.env.CI;

export function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const p = join(dir, bin);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function missingBinaryMessage(bin: string): string {
  return IN_CI
    ? `${bin} not found on PATH, and CI is set: CI must install the Debian package "prometheus" (list it in .ci/apt-packages)`
    : `${bin} not found on PATH: skipped (install the Debian package "prometheus" to run it: apt-get install -y prometheus)`;
}

// ------------------------------------------------------------------------------ dashboards

export interface GrafanaTarget {
  refId?: string;
  expr?: string;
  legendFormat?: string;
  datasource?: { type?: string; uid?: string };
  instant?: boolean;
  format?: string;
}

export interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: GrafanaTarget[];
  panels?: GrafanaPanel[];
  fieldConfig?: { defaults?: { unit?: string; mappings?: unknown[] } };
}

export interface GrafanaVariable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  datasource?: { type?: string; uid?: string };
  includeAll?: boolean;
  multi?: boolean;
  allValue?: string;
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: GrafanaPanel[];
  templating: { list: GrafanaVariable[] };
  tags?: string[];
}

export function dashboardFiles(): string[] {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

export function loadDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included, rows themselves excluded. */
export function panelsOf(d: Dashboard): GrafanaPanel[] {
  const out: GrafanaPanel[] = [];
  const walk = (ps: GrafanaPanel[]) => {
    for (const p of ps) {
      if (p.type === 'row') walk(p.panels ?? []);
      else out.push(p);
    }
  };
  walk(d.panels);
  return out;
}

/** Every panel id, rows included (ids must be unique across both). */
export function allPanelIds(d: Dashboard): number[] {
  const ids: number[] = [];
  const walk = (ps: GrafanaPanel[]) => {
    for (const p of ps) {
      ids.push(p.id);
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  return ids;
}

export function variableQuery(v: GrafanaVariable): string {
  return v.definition ?? (typeof v.query === 'string' ? v.query : (v.query?.query ?? ''));
}

/** Grafana's built-in variables a panel may use, with the values the tests give them. */
export const BUILTINS: Record<string, string> = { __rate_interval: '1m', __interval: '15s', __range: '5m' };

/** `$name`, `${name}` and `[[name]]` references in a query. */
export function variableRefs(expr: string): string[] {
  return [...expr.matchAll(/\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)\]\]/g)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

/** Substitutes dashboard variables (all: `.*`) and the built-ins. */
export function substitute(expr: string, values: Record<string, string>): string {
  const all = { ...BUILTINS, ...values };
  return expr.replace(/\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const v = all[name];
    if (v === undefined) throw new Error(`no value for variable ${name} in ${expr}`);
    return v;
  });
}

/** The labels a legend format names ({{label}}). */
export function legendLabels(legend: string | undefined): string[] {
  if (!legend || legend === '__auto') return [];
  return [...legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!);
}

// ------------------------------------------------------------------------------ alert rules

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleFile {
  groups: { name: string; rules: (AlertRule & { record?: string })[] }[];
}

export function loadRules(): AlertRule[] {
  const doc = parseYaml(readFileSync(RULES_FILE, 'utf8')) as RuleFile;
  return doc.groups.flatMap((g) => g.rules).filter((r): r is AlertRule => typeof r.alert === 'string');
}

// ------------------------------------------------------------------------------ metric catalog

export interface MetricInfo {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  labels: string[];
  help: string;
  component: 'sidecar' | 'operator';
}

/** The airoute and GenAI metrics exactly as the code registers them (instantiated, not parsed). */
export function metricCatalog(): Map<string, MetricInfo> {
  const out = new Map<string, MetricInfo>();
  const journal = { stats: () => ({ requests: 0, events: 0, bytes: 0, evictions: 0 }) } as unknown as Journal;
  const sidecar = new SidecarMetrics(new Sidecar(pino({ level: 'silent' })), { journal: () => journal, asyncInFlight: () => 0 });
  const operator = new OperatorMetrics();
  for (const [component, registry] of [
    ['sidecar', sidecar.registry],
    ['operator', operator.registry],
  ] as const) {
    for (const m of registry.getMetricsAsArray() as unknown as { name: string; type: MetricInfo['type']; labelNames?: string[]; help: string }[]) {
      if (!/^(airoute_|gen_ai_)/.test(m.name)) continue;
      out.set(m.name, { name: m.name, type: m.type, labels: [...(m.labelNames ?? [])], help: m.help, component });
    }
  }
  return out;
}

/** Series names a query uses that are not in the catalog (histogram suffixes resolved). */
export function unknownMetrics(expr: string, catalog: Map<string, MetricInfo>): string[] {
  // Series names only: not label names in matchers, grouping clauses or strings.
  const bare = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set([...bare.matchAll(/\b((?:airoute|gen_ai)_[a-z0-9_]+)\b/g)].map((m) => m[1]!));
  const unknown: string[] = [];
  for (const n of names) {
    if (catalog.has(n)) continue;
    const base = n.replace(/_(bucket|sum|count)$/, '');
    if (base !== n && catalog.get(base)?.type === 'histogram') continue;
    unknown.push(n);
  }
  return unknown;
}

// ------------------------------------------------------------------------------ processes

export function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, out });
    });
  });
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it returns undefined (done) or the deadline passes (throws its last reason). */
export async function until(what: string, probe: () => Promise<string | undefined>, timeoutMs: number, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reason: string | undefined = 'not checked yet';
  while (Date.now() < deadline) {
    reason = await probe().catch((e: unknown) => `probe failed: ${(e as Error).message}`);
    if (reason === undefined) return;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${reason}`);
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export type QueryData = { resultType: 'vector'; result: PromSample[] } | { resultType: 'scalar' | 'string'; result: [number, string] } | { resultType: 'matrix'; result: unknown[] };

export interface ScrapeTarget {
  job: string;
  address: string;
  labels: Record<string, string>;
  /** For the whole job (Prometheus' honor_labels is per scrape config). */
  honorLabels?: boolean;
  /** HTTPS with a certificate nothing can verify (an injected sidecar's admin port; the chart's
   *  PodMonitor scrapes it the same way). For the whole job. */
  tlsSkipVerify?: boolean;
}

/** A real Prometheus on 127.0.0.1, its config, rules and TSDB in a temp dir. */
export class Prometheus {
  readonly url: string;
  private readonly child: ChildProcess;
  private readonly dir: string;
  private log = '';
  private exited: number | null | undefined;

  private constructor(child: ChildProcess, dir: string, port: number) {
    this.child = child;
    this.dir = dir;
    this.url = `http://127.0.0.1:${port}`;
    const keep = (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', (code) => (this.exited = code));
  }

  static async start(bin: string, o: { targets: ScrapeTarget[]; ruleFiles?: string[]; scrapeIntervalS?: number; readyTimeoutMs?: number }): Promise<Prometheus> {
    const dir = await mkdtemp(join(tmpdir(), 'airoute-prometheus-'));
    const interval = `${o.scrapeIntervalS ?? 1}s`;
    const config = {
      global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
      rule_files: o.ruleFiles ?? [],
      scrape_configs: [...new Set(o.targets.map((t) => t.job))].map((job) => {
        const ts = o.targets.filter((t) => t.job === job);
        return {
          job_name: job,
          honor_labels: ts.some((t) => t.honorLabels),
          metrics_path: '/metrics',
          ...(ts.some((t) => t.tlsSkipVerify) ? { scheme: 'https', tls_config: { insecure_skip_verify: true } } : {}),
          static_configs: ts.map((t) => ({ targets: [t.address], labels: t.labels })),
        };
      }),
    };
    await writeFile(join(dir, 'prometheus.yml'), stringifyYaml(config));
    let lastError = '';
    // The port is free when picked; retry if something takes it before Prometheus binds it.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const child = spawn(
        bin,
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--storage.tsdb.retention.time=1h`,
          `--web.listen-address=127.0.0.1:${port}`,
          `--web.console.templates=${join(dir, 'consoles')}`,
          `--web.console.libraries=${join(dir, 'console_libraries')}`,
          '--log.level=warn',
        ],
        { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const p = new Prometheus(child, dir, port);
      try {
        const deadline = Date.now() + (o.readyTimeoutMs ?? 15_000);
        for (;;) {
          if (p.exited !== undefined) throw new Error(`prometheus exited with ${p.exited}: ${p.log}`);
          const r = await fetch(`${p.url}/-/ready`).catch(() => undefined);
          if (r?.status === 200) return p;
          if (Date.now() > deadline) throw new Error(`not ready after ${o.readyTimeoutMs ?? 15_000} ms: ${p.log}`);
          await sleep(100);
        }
      } catch (e) {
        lastError = (e as Error).message;
        await p.stop({ keepDir: true });
      }
    }
    await rm(dir, { recursive: true, force: true });
    throw new Error(`could not start prometheus: ${lastError}`);
  }

  get logs(): string {
    return this.log;
  }

  async api<T>(path: string): Promise<T> {
    const res = await fetch(`${this.url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.errorType ?? ''} ${body.error ?? res.status}`);
    return body.data;
  }

  query(expr: string): Promise<QueryData> {
    return this.api<QueryData>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
  }

  /** An instant query that must give a vector; its samples. */
  async vector(expr: string): Promise<PromSample[]> {
    const d = await this.query(expr);
    if (d.resultType !== 'vector') throw new Error(`${expr}: expected a vector, got ${d.resultType}`);
    return d.result;
  }

  async stop(o: { keepDir?: boolean } = {}): Promise<void> {
    if (this.exited === undefined && this.child.exitCode === null) {
      const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    if (!o.keepDir) await rm(this.dir, { recursive: true, force: true });
  }
}
