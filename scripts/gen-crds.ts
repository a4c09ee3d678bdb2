// Writes crds/ from the schema in api/v1alpha1 (test/operator/crd.test.ts fails when it is stale).
// Usage: node scripts/gen-crds.ts [--check]
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { airouteCrdYaml, CRD_FILE } from '../operator/crd/generate.ts';

const target = fileURLToPath(new URL(`../${CRD_FILE}`, import.meta.url));
const text = airouteCrdYaml();
if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== text) {
    console.error(`${CRD_FILE} is stale: run node scripts/gen-crds.ts`);
    process.exit(1);
  }
  console.log(`${CRD_FILE} is up to date`);
} else {
  await writeFile(target, text);
  console.log(`wrote ${CRD_FILE}`);
}
