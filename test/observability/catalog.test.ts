// docs/observability.md lists every metric the code registers, with its labels, and nothing that
// the code does not register. The catalog comes from the live registries (SidecarMetrics and
// OperatorMetrics instantiated), not from parsing source.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ROOT, metricCatalog } from './support.ts';

const doc = readFileSync(join(ROOT, 'docs/observability.md'), 'utf8');
const rows = new Map<string, string>();
// metric tables: | `name` | type | labels | meaning |
for (const line of doc.split('\n')) {
  const m = /^\| `((?:airoute|gen_ai)_[a-z0-9_]+)` \| (?:counter|gauge|histogram|summary)/.exec(line);
  if (m) rows.set(m[1]!, line);
}

test('every metric the sidecar and operator register is documented with its type and every label', () => {
  const problems: string[] = [];
  for (const m of metricCatalog().values()) {
    const row = rows.get(m.name);
    if (!row) {
      problems.push(`${m.name} (${m.component}) is not in docs/observability.md`);
      continue;
    }
    const cells = row.split('|').map((c) => c.trim());
    if (!cells[2]!.startsWith(m.type)) problems.push(`${m.name}: documented as ${cells[2]}, registered as ${m.type}`);
    const documented = [...cells[3]!.matchAll(/`(\w+)`/g)].map((x) => x[1]).sort();
    if (JSON.stringify(documented) !== JSON.stringify([...m.labels].sort())) problems.push(`${m.name}: labels documented ${JSON.stringify(documented)}, registered ${JSON.stringify(m.labels)}`);
  }
  expect(problems).toEqual([]);
});

test('the docs list no metric the code does not register', () => {
  const catalog = metricCatalog();
  expect([...rows.keys()].filter((n) => !catalog.has(n))).toEqual([]);
});
