// The Grafana dashboards as data: valid dashboard JSON of the schema Grafana 10/11 writes, every
// panel on the templated Prometheus data source with PromQL targets, unique ids, defined and
// multi-value-safe variables, units that fit the query, and only series the code exports.
// (Whether each query returns data is proven against a real Prometheus in prometheus.test.ts.)
import { describe, expect, test } from 'vitest';
import { allPanelIds, dashboardFiles, legendLabels, loadDashboard, metricCatalog, panelsOf, unknownMetrics, variableQuery, variableRefs, BUILTINS, type Dashboard } from './support.ts';

const files = dashboardFiles();
const catalog = metricCatalog();
const DS = { type: 'prometheus', uid: '${datasource}' };

test('the chart ships the overview, backends and control-plane dashboards, with distinct uids and titles', () => {
  expect(files).toEqual(['backends.json', 'control-plane.json', 'overview.json']);
  const ds = files.map(loadDashboard);
  expect(new Set(ds.map((d) => d.uid)).size).toBe(ds.length);
  expect(new Set(ds.map((d) => d.title)).size).toBe(ds.length);
});

describe.each(files)('%s', (file) => {
  const d: Dashboard = loadDashboard(file);
  const vars = d.templating.list;
  const names = vars.map((v) => v.name);
  const panels = panelsOf(d);

  test('dashboard fields: schemaVersion 39, uid, title, tags, no fixed id', () => {
    expect(d.schemaVersion).toBe(39);
    expect(d.uid).toMatch(/^airoute-[a-z-]+$/);
    expect(d.uid.length).toBeLessThanOrEqual(40);
    expect(d.title).toMatch(/^airoute \/ /);
    expect(d.tags).toContain('airoute');
    expect((d as unknown as { id: unknown }).id).toBeNull();
  });

  test('variables: a Prometheus data source variable, then namespace/route(/backend) from label_values, all multi-value with .* for All', () => {
    expect(vars[0]).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
    expect(names).toEqual(expect.arrayContaining(['namespace', 'route']));
    if (file !== 'control-plane.json') expect(names).toContain('backend');
    expect(new Set(names).size).toBe(names.length);
    vars.slice(1).forEach((v, i) => {
      expect(v.type, v.name).toBe('query');
      expect(v.datasource, v.name).toEqual(DS);
      expect(variableQuery(v), v.name).toMatch(/^label_values\((\w+(\{[^}]*\})?, )?\w+\)$/);
      expect(v).toMatchObject({ includeAll: true, multi: true, allValue: '.*' });
      // A variable's query may only use variables defined before it.
      for (const ref of variableRefs(variableQuery(v))) expect(names.slice(0, i + 1), `${v.name} uses $${ref}`).toContain(ref);
    });
  });

  test('panel ids are unique; grid positions lie within 24 columns and do not overlap', () => {
    const ids = allPanelIds(d);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of d.panels.concat(d.panels.flatMap((r) => r.panels ?? []))) {
      const g = p.gridPos;
      expect(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, `${p.title} ${JSON.stringify(g)}`).toBe(true);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });

  test('every panel: the templated Prometheus data source, a description, a unit, targets with expr and unique refIds', () => {
    expect(panels.length).toBeGreaterThan(5);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual(DS);
      expect(p.description, p.title).toBeTruthy();
      expect(p.fieldConfig?.defaults?.unit, p.title).toBeTruthy();
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets!) {
        expect(t.datasource, p.title).toEqual(DS);
        expect(t.refId, p.title).toMatch(/^[A-Z]$/);
        expect(t.expr?.trim(), p.title).toBeTruthy();
      }
    }
  });

  test('queries use only defined variables, each inside a =~ matcher (multi-value and All safe)', () => {
    for (const p of panels)
      for (const t of p.targets!) {
        for (const ref of variableRefs(t.expr!)) expect([...names, ...Object.keys(BUILTINS)], `${p.title}: $${ref}`).toContain(ref);
        const uses = [...t.expr!.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*\$[^"]*)"/g)];
        for (const u of uses) expect(u[2], `${p.title}: ${u[0]}`).toBe('=~');
        const bare = t.expr!.replace(/"[^"]*"/g, '').replace(/\[\$__\w+\]/g, '');
        expect(variableRefs(bare).filter((r) => !r.startsWith('__')), `${p.title}: a variable outside a label matcher`).toEqual([]);
      }
  });

  test('queries use only series the code exports (names checked against the registries)', () => {
    for (const p of panels) for (const t of p.targets!) expect(unknownMetrics(t.expr!, catalog), `${p.title}: ${t.expr}`).toEqual([]);
    for (const v of vars.slice(1)) expect(unknownMetrics(variableQuery(v), catalog), v.name).toEqual([]);
  });

  test('legends name only labels the query keeps', () => {
    for (const p of panels)
      for (const t of p.targets!) {
        const by = [...t.expr!.matchAll(/\b(?:by|on)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim()));
        const kept = new Set([...by, 'version']);
        for (const l of legendLabels(t.legendFormat)) expect(kept.has(l), `${p.title}: legend {{${l}}} not in a by()/on() clause of ${t.expr}`).toBe(true);
      }
  });

  test('units fit the queries: seconds for latency quantiles, percentunit for ratios, per-second units for rates', () => {
    for (const p of panels) {
      const unit = p.fieldConfig!.defaults!.unit!;
      const exprs = p.targets!.map((t) => t.expr!);
      if (exprs.some((e) => /histogram_quantile\([^,]+, .*_seconds_bucket/.test(e))) expect(unit, p.title).toBe('s');
      if (/\bratio\b/i.test(p.title)) expect(unit, p.title).toBe('percentunit');
      if (/\/s\b/.test(p.title)) expect(['reqps', 'ops', 'suffix: tok/s'], p.title).toContain(unit);
      if (p.type === 'state-timeline') expect(p.fieldConfig!.defaults!.mappings?.length, p.title).toBeGreaterThan(0);
    }
  });
});
