// Histograms, counters and gauges for the per-request hot path, registered in the same prom-client
// Registry as every other metric and exposed in exactly its format. prom-client checks and hashes
// the label object on every observe (its `labels()` children too), which made metrics one of the
// largest per-request costs; here a series is looked up once per label values and kept, so an
// observation is a bucket search and a few additions. Label values still come only from the
// config and closed sets (see metrics.ts), so the series count stays bounded.

type Labels = Record<string, string>;

/** prom-client's exported shape of one sample (what Registry.getMetricsAsString reads). */
interface Sample {
  labels: Record<string, string | number>;
  sharedLabels: Labels;
  value: number;
  metricName: string;
}

interface Exported {
  name: string;
  help: string;
  type: 'histogram' | 'counter' | 'gauge';
  values: Sample[];
  aggregator: 'sum';
}

abstract class Family<S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly series = new Map<string, { labels: Labels; s: S }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  protected abstract make(): S;

  /** Forgets every series (prom-client's Registry.resetMetrics calls it). */
  reset(): void {
    this.series.clear();
  }

  /** The series for these label values, in `labelNames` order: made on first use, then kept. */
  with(...values: string[]): S {
    const key = values.length === 1 ? values[0]! : values.join('\u0001');
    let entry = this.series.get(key);
    if (!entry) {
      if (values.length !== this.labelNames.length) throw new Error(`${this.name}: ${this.labelNames.length} label values expected, got ${values.length}`);
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
      entry = { labels, s: this.make() };
      this.series.set(key, entry);
    }
    return entry.s;
  }
}

export interface HistogramSeries {
  observe(value: number): void;
}

export class FastHistogram extends Family<HistogramSeries> {
  readonly type = 'histogram' as const;
  private readonly bounds: readonly number[];

  constructor(o: { name: string; help: string; labelNames: readonly string[]; buckets: readonly number[] }) {
    // The label names' order is the order `with()` takes the values in.
    super(o.name, o.help, o.labelNames);
    this.bounds = [...o.buckets].sort((a, b) => a - b);
  }

  protected make(): HistogramSeries & { counts: Float64Array; sum: number; count: number } {
    const bounds = this.bounds;
    const s = {
      counts: new Float64Array(bounds.length),
      sum: 0,
      count: 0,
      observe(value: number): void {
        if (!Number.isFinite(value)) return;
        s.sum += value;
        s.count++;
        for (let i = 0; i < bounds.length; i++)
          if (value <= bounds[i]!) {
            s.counts[i]!++;
            return;
          }
      },
    };
    return s;
  }

  get(): Exported {
    const values: Sample[] = [];
    for (const { labels, s } of this.series.values()) {
      const h = s as ReturnType<FastHistogram['make']>;
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += h.counts[i]!;
        values.push({ labels: { le }, sharedLabels: labels, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: h.count, metricName: `${this.name}_bucket` });
      values.push({ labels: {}, sharedLabels: labels, value: h.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: labels, value: h.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}

export interface CounterSeries {
  inc(by?: number): void;
}

export class FastCounter extends Family<CounterSeries & { value: number }> {
  readonly type = 'counter' as const;

  protected make(): CounterSeries & { value: number } {
    const s = {
      value: 0,
      inc(by = 1): void {
        if (by > 0) s.value += by;
      },
    };
    return s;
  }

  get(): Exported {
    return { name: this.name, help: this.help, type: this.type, values: [...this.series.values()].map(({ labels, s }) => ({ labels: {}, sharedLabels: labels, value: s.value, metricName: this.name })), aggregator: 'sum' };
  }
}

export interface GaugeSeries {
  inc(by?: number): void;
  dec(by?: number): void;
  set(value: number): void;
}

export class FastGauge extends Family<GaugeSeries & { value: number }> {
  readonly type = 'gauge' as const;

  protected make(): GaugeSeries & { value: number } {
    const s = {
      value: 0,
      inc(by = 1): void {
        s.value += by;
      },
      dec(by = 1): void {
        s.value -= by;
      },
      set(value: number): void {
        s.value = value;
      },
    };
    return s;
  }

  get(): Exported {
    return { name: this.name, help: this.help, type: this.type, values: [...this.series.values()].map(({ labels, s }) => ({ labels: {}, sharedLabels: labels, value: s.value, metricName: this.name })), aggregator: 'sum' };
  }
}
