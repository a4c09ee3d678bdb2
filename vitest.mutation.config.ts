// The tests Stryker runs against each mutant of one area (`npm run test:mutation`; the areas and
// their tests are listed in test/mutation/areas.mjs).
import { defineConfig } from 'vitest/config';
import { MUTATION_AREAS } from './test/mutation/areas.mjs';

const area = MUTATION_AREAS.find((a) => a.name === (process.env.AIROUTE_MUTATION_AREA ?? 'resilience'));
if (!area) throw new Error(`unknown AIROUTE_MUTATION_AREA ${process.env.AIROUTE_MUTATION_AREA}`);

export default defineConfig({
  test: {
    include: area.tests,
    exclude: ['**/node_modules/**', 'dist/**', '**/*.property.test.ts', 'test/faults/property.test.ts', 'test/faults/leaks.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
