// The alert rules: `promtool check rules` and `promtool test rules` (the unit tests in
// charts/airoute/alerts/tests/), plus the rule file as data: every alert has a severity, a summary
// and a description, uses only series the code exports, and is exercised by a promtool test
// that expects it to fire. promtool ships with Debian's prometheus package: skipped with a
// message where it is absent, a failure when CI is set.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { IN_CI, RULE_TESTS_DIR, RULES_FILE, loadRules, metricCatalog, missingBinaryMessage, run, unknownMetrics, which } from './support.ts';

const PROMTOOL = which('promtool');
const testFiles = readdirSync(RULE_TESTS_DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => join(RULE_TESTS_DIR, f));

describe('alert rules as data', () => {
  const rules = loadRules();
  const catalog = metricCatalog();

  test('the five alert families of issue 7 are there (error ratio, circuit, retry budget, config drift, diverged streams), uniquely named', () => {
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining(['AirouteHighErrorRatio', 'AirouteCircuitOpen', 'AirouteRetryBudgetExhausted', 'AirouteConfigDrift', 'AirouteStreamDiverged']),
    );
    expect(rules.find((r) => r.alert === 'AirouteConfigDrift')!.for).toBe('5m');
  });

  test('every alert: severity, summary, description; only series the code exports', () => {
    for (const r of rules) {
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
      expect(unknownMetrics(r.expr, catalog), r.alert).toEqual([]);
    }
  });

  test('every alert has a promtool test case where it fires', () => {
    const firing = new Set<string>();
    for (const f of testFiles) {
      const doc = parseYaml(readFileSync(f, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] };
      for (const t of doc.tests) for (const a of t.alert_rule_test ?? []) if ((a.exp_alerts ?? []).length > 0) firing.add(a.alertname);
    }
    for (const r of rules) expect(firing.has(r.alert), `${r.alert} has no promtool test that expects it to fire`).toBe(true);
  });
});

describe('promtool', () => {
  if (!PROMTOOL)
    test(missingBinaryMessage('promtool'), (ctx) => {
      if (IN_CI) throw new Error(missingBinaryMessage('promtool'));
      ctx.skip();
    });

  test.runIf(!!PROMTOOL)('promtool check rules accepts the rule file', async () => {
    const r = await run(PROMTOOL!, ['check', 'rules', RULES_FILE]);
    expect(r.out).toContain('SUCCESS');
    expect(r.code, r.out).toBe(0);
  });

  test.runIf(!!PROMTOOL)('promtool test rules: every unit test passes', async () => {
    expect(testFiles.length).toBeGreaterThan(0);
    // Relative rule_files in the tests resolve against the test file's directory.
    const r = await run(PROMTOOL!, ['test', 'rules', ...testFiles], { cwd: RULE_TESTS_DIR });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
    expect(r.out).not.toContain('FAILED');
  });
});
