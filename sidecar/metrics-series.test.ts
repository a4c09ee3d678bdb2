import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import { expect, test } from 'vitest';
import { FastCounter, FastGauge, FastHistogram } from './metrics-series.ts';

const BUCKETS = [0.01, 0.1, 1, 10];

/** The same observations through prom-client's own metric and through the fast one must expose the same text. */
async function both(make: (r: Registry) => void, fast: (r: Registry) => void): Promise<[string, string]> {
  const a = new Registry();
  const b = new Registry();
  make(a);
  fast(b);
  return [await a.metrics(), await b.metrics()];
}

test('a histogram exposes exactly what prom-client exposes for the same observations (buckets cumulative, +Inf, sum, count)', async () => {
  const values = [0.005, 0.05, 0.05, 0.5, 5, 50, Number.NaN];
  const [slow, fast] = await both(
    (r) => {
      const h = new Histogram({ name: 'x_seconds', help: 'x', labelNames: ['route', 'outcome'], buckets: BUCKETS, registers: [r] });
      for (const v of values.filter(Number.isFinite)) h.observe({ route: 'a', outcome: 'success' }, v);
      h.observe({ route: 'b', outcome: 'error' }, 2);
    },
    (r) => {
      const h = new FastHistogram({ name: 'x_seconds', help: 'x', labelNames: ['route', 'outcome'], buckets: BUCKETS });
      r.registerMetric(h as unknown as Metric);
      for (const v of values) h.with('a', 'success').observe(v); // NaN is not a value: ignored
      h.with('b', 'error').observe(2);
    },
  );
  expect(fast).toBe(slow);
  expect(fast).toContain('x_seconds_bucket{le="0.1",route="a",outcome="success"} 3');
});

test('a counter and a gauge expose what prom-client exposes; a series exists from its first with(), at zero', async () => {
  const [slow, fast] = await both(
    (r) => {
      const c = new Counter({ name: 'c_total', help: 'c', labelNames: ['route', 'mode'], registers: [r] });
      c.inc({ route: 'a', mode: 'fresh' }, 0);
      c.inc({ route: 'b', mode: 'verify' });
      c.inc({ route: 'b', mode: 'verify' }, 2);
      const g = new Gauge({ name: 'g', help: 'g', labelNames: ['stream'], registers: [r] });
      g.inc({ stream: 'true' });
      g.inc({ stream: 'true' });
      g.dec({ stream: 'true' });
      g.set({ stream: 'false' }, 0);
    },
    (r) => {
      const c = new FastCounter('c_total', 'c', ['route', 'mode']);
      const g = new FastGauge('g', 'g', ['stream']);
      r.registerMetric(c as unknown as Metric);
      r.registerMetric(g as unknown as Metric);
      c.with('a', 'fresh').inc(0);
      c.with('b', 'verify').inc();
      c.with('b', 'verify').inc(2);
      c.with('b', 'verify').inc(-1); // a counter only goes up
      g.with('true').inc();
      g.with('true').inc();
      g.with('true').dec();
      g.with('false').set(0);
    },
  );
  expect(fast).toBe(slow);
});

test('a series is made once per label values and kept; the wrong number of values is a bug, refused at once', () => {
  const c = new FastCounter('c_total', 'c', ['route', 'backend']);
  expect(c.with('a', 'b')).toBe(c.with('a', 'b'));
  expect(c.with('a', 'b')).not.toBe(c.with('a', 'c'));
  expect(() => c.with('a')).toThrow(/2 label values expected, got 1/);
  c.reset();
  expect(c.get().values).toEqual([]);
});
