// Sizes of every scenario of `npm run bench`: the full run and `--quick`. The whole object is
// written to latest.json as `params`, so a result file says what it measured.

export function params(quick: boolean, rounds: number) {
  return {
    chunks: 64,
    pacedIntervalMs: 20,
    latency: { n: quick ? 600 : 2000, warm: quick ? 600 : 2000 },
    stream: { n: quick ? 100 : 250, warm: quick ? 100 : 250, firstGapMs: 3 },
    paced: { concurrency: 16, perWorker: quick ? 1 : 2, rounds: Math.min(rounds, quick ? 2 : 5) },
    rps: { concurrencies: [64, 256], delayMs: 20, warmMs: quick ? 300 : 500, durationMs: quick ? 800 : 3000, rounds: Math.min(rounds, quick ? 2 : 3), capacityMs: quick ? 700 : 2000 },
    checkpoint: { concurrency: 16, warmMs: 200, durationMs: quick ? 700 : 1500, rounds },
    faults: { n: quick ? 150 : 400, concurrency: 16, intervalMs: 1, fault429: 0.1, faultDrop: 0.1, rounds: 2 },
    journal: { streams: quick ? 80 : 150, requests: quick ? 400 : 800, rounds: Math.min(rounds, quick ? 2 : 4) },
    // Long, slow streams: all 1,000 must be open at once, and the chunk rate (2,500/s) must not
    // make the load generator or the mock (one core between them) the bottleneck.
    rss: { streams: 1000, openConcurrency: 200, intervalMs: 400, chunks: quick ? 20 : 32, warm: quick ? 150 : 300 },
  };
}

export type Params = ReturnType<typeof params>;
