// The modules mutation testing covers (`npm run test:mutation`), in areas run one after another.
// Shared by stryker.config.mjs and scripts/mutation.ts. Plain JavaScript: Stryker loads its config
// without a TypeScript loader.
// \`tests\` are the suites run against each mutant: the unit tests beside the modules and the
// real-HTTP suites that drive them. Property tests are left out: their random inputs would make a
// mutant's fate vary between runs. test/faults/leaks.test.ts is left out too: each of its cases
// covers the whole data path and takes seconds, which per mutant would multiply a run's time by four;
// it runs in `npm test`.
export const MUTATION_AREAS = [
  {
    name: 'resilience',
    what: 'resilience stages, the pipeline, checkpoints and continuations',
    mutate: ['sidecar/stages/*.ts', 'sidecar/pipeline/*.ts', 'sidecar/upstream/frames.ts', '!**/*.test.ts', '!sidecar/pipeline/exchange.ts'],
    // Only the tests beside the modules (no sockets, scripted transport, fake clocks): a mutant of a
    // stage must be caught by the stage's own tests. The real-HTTP fault suites (test/faults/) drive
    // the same code with real timeouts: seconds per mutant, hours per run on two cores.
    tests: ['sidecar/stages/**/*.test.ts', 'sidecar/pipeline/**/*.test.ts', 'sidecar/upstream/frames.test.ts'],
  },
  {
    name: 'codecs',
    what: 'the wire codecs (one per format and direction) and their shared helpers',
    mutate: ['sidecar/wire/**/*.ts', '!**/*.test.ts', '!sidecar/wire/types.ts'],
    tests: ['sidecar/wire/**/*.test.ts', 'test/translation.test.ts', 'test/parameters.test.ts', 'test/openai-compatible.test.ts', 'test/responses/translation.test.ts', 'test/responses/bad-input.test.ts', 'test/responses/reasoning.test.ts', 'test/responses/conversation.test.ts', 'test/responses/faults.test.ts', 'test/headers.test.ts', 'test/mutation/codecs/**/*.test.ts'],
  },
  {
    name: 'control',
    what: "the operator's reconcile plan, webhook signing and the destination allow-list",
    mutate: ['operator/reconcile/plan.ts', 'sidecar/requests/webhooks.ts', 'sidecar/requests/destinations.ts', 'sidecar/requests/completion.ts', '!**/*.test.ts'],
    tests: ['operator/reconcile/**/*.test.ts', 'test/operator/scenarios.test.ts', 'sidecar/requests/**/*.test.ts', 'test/events/webhooks.test.ts', 'test/hardening/webhooks.test.ts', 'test/hardening/complete.test.ts', 'test/mutation/control/**/*.test.ts'],
  },
];
