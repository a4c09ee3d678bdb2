// Mutation testing (`npm run test:mutation`): how much of the product's promised behaviour the
// tests pin down. Scope: the modules that carry those promises (resilience stages and pipeline,
// checkpoints and continuations, the wire codecs, the operator's plan, webhook signing and the
// destination allow-list). Not part of `npm test`: a full run takes long on two cores; the
// incremental file makes a rerun after a small change take minutes (only changed code and tests
// are re-tested). Equivalent mutants are marked in the source (`// Stryker disable next-line
// <mutator>: <why>`) and listed by scripts/mutation.ts.
//
// TypeScript 7 has no JavaScript API, so Stryker's TypeScript checker cannot run: no checkers;
// a mutant that would not type-check is run anyway and usually killed by the tests.
import { MUTATION_AREAS } from './test/mutation/areas.mjs';

// One area per run (AIROUTE_MUTATION_AREA; scripts/mutation.ts runs them all in turn), each with
// its own incremental file, so a change to the codecs re-tests only the codecs.
const AREA = MUTATION_AREAS.find((a) => a.name === (process.env.AIROUTE_MUTATION_AREA ?? 'resilience'));
if (!AREA) throw new Error(`unknown AIROUTE_MUTATION_AREA ${process.env.AIROUTE_MUTATION_AREA}; one of ${MUTATION_AREAS.map((a) => a.name).join(', ')}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  checkers: [],
  // Stryker rewrites the tsconfig in its sandbox with the TypeScript API, which TypeScript 7 no
  // longer has; pointing it at a file that does not exist skips that step (the tests never read
  // the tsconfig: Node strips the types).
  tsconfigFile: 'tsconfig.stryker-sandbox-skip.json',
  coverageAnalysis: 'perTest',
  mutate: AREA.mutate,
  ignorePatterns: ['dist', 'coverage', 'reports', 'docs', 'bench/results', 'charts', '.tools', 'test/e2e', 'test/browser'],
  // Static mutants (module-level tables and constants, evaluated once at import) would each need
  // the whole suite re-run in a fresh process: about 45 % of the time for 8 % of the mutants.
  // They are reported as ignored, not counted in the score.
  ignoreStatic: true,
  incremental: true,
  incrementalFile: `reports/mutation/incremental/${AREA.name}.json`,
  concurrency: 2,
  timeoutMS: 5_000,
  timeoutFactor: 2,
  thresholds: { high: 85, low: 70, break: null },
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: `reports/mutation/${AREA.name}.json` },
  htmlReporter: { fileName: `reports/mutation/${AREA.name}.html` },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
