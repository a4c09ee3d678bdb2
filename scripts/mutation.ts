// `npm run test:mutation [-- area ...] [--report-only]`: mutation testing of the modules that carry
// the product's promises (areas in test/mutation/areas.mjs), one Stryker run per area, then a score
// per module against the goal. Equivalent mutants are marked in the source with a
// `// Stryker disable next-line <mutator>: <why>` comment; they are reported as ignored, listed
// here with their reason, and left out of the score (as are static mutants: stryker.config.mjs).
// Exit status 1 when a module is under the goal.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MUTATION_AREAS } from '../test/mutation/areas.mjs';

const GOAL = 85;
const ROOT = path.resolve(import.meta.dirname, '..');
const { values: flags, positionals } = parseArgs({
  options: { 'report-only': { type: 'boolean', default: false }, 'write-docs': { type: 'boolean', default: false } },
  allowPositionals: true,
});
const areas = positionals.length ? MUTATION_AREAS.filter((a) => positionals.includes(a.name)) : MUTATION_AREAS;
if (areas.length !== (positionals.length || MUTATION_AREAS.length)) throw new Error(`areas: ${MUTATION_AREAS.map((a) => a.name).join(', ')}`);

interface Mutant {
  mutatorName: string;
  replacement?: string;
  status: 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';
  statusReason?: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { mutants: Mutant[] }>;
}

const rows: string[] = [];
const equivalents: string[] = [];
const survivors: string[] = [];
let missed = false;
for (const area of areas) {
  if (!flags['report-only']) {
    console.log(`\n== ${area.name}: ${area.what}`);
    const run = spawnSync(path.join(ROOT, 'node_modules/.bin/stryker'), ['run'], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, AIROUTE_MUTATION_AREA: area.name } });
    if (run.status !== 0) throw new Error(`stryker failed for area ${area.name} (exit ${run.status})`);
  }
  const file = path.join(ROOT, 'reports/mutation', `${area.name}.json`);
  if (!existsSync(file)) throw new Error(`no report for ${area.name}: run without --report-only first`);
  const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  for (const [name, { mutants }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
    const count = (...s: Mutant['status'][]) => mutants.filter((m) => s.includes(m.status)).length;
    const detected = count('Killed', 'Timeout');
    const undetected = count('Survived', 'NoCoverage');
    const ignored = mutants.filter((m) => m.status === 'Ignored');
    const equivalent = ignored.filter((m) => !/static/i.test(m.statusReason ?? ''));
    const total = detected + undetected;
    const score = total ? (detected * 100) / total : 100;
    if (score < GOAL) missed = true;
    const rel = path.relative(ROOT, path.resolve(ROOT, name));
    rows.push(`| ${area.name} | \`${rel}\` | ${total} | ${detected} | ${undetected} | ${equivalent.length} | ${ignored.length - equivalent.length} | ${score.toFixed(1)} % | ${score >= GOAL ? 'yes' : '**no**'} |`);
    for (const m of equivalent) equivalents.push(`- \`${rel}:${m.location.start.line}\` ${m.mutatorName}: ${m.statusReason ?? ''}`);
    for (const m of mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage'))
      survivors.push(`${rel}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName} -> ${JSON.stringify(m.replacement ?? '').slice(0, 100)}`);
  }
}

const table = [
  `| area | module | mutants scored | detected | undetected | equivalent (excluded) | static (excluded) | score | ≥ ${GOAL} % |`,
  '|---|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n');
const summary = `${table}\n\n### Equivalent mutants (excluded from the score)\n\n${equivalents.join('\n') || 'none'}\n`;
writeFileSync(path.join(ROOT, 'reports/mutation/summary.md'), summary);
// --write-docs: the committed copy the README links to (run after all areas, with every report present)
if (flags['write-docs'])
  writeFileSync(
    path.join(ROOT, 'docs/mutation.md'),
    `# Mutation scores\n\nWritten by \`npm run test:mutation -- --report-only --write-docs\` from the last Stryker report of each area (${new Date().toISOString().slice(0, 10)}). How it works and what is excluded: README, "Mutation testing". Survivors not listed below as equivalent are behaviours no test pins down yet.\n\n${summary}`,
  );
writeFileSync(path.join(ROOT, 'reports/mutation/survivors.txt'), survivors.join('\n') + '\n');
console.log(`\n${summary}\nsurvivors: reports/mutation/survivors.txt (${survivors.length}); HTML: reports/mutation/<area>.html`);
console.log(missed ? `\nGOAL NOT MET: some module scores under ${GOAL} %` : `\ngoal met: every module at ${GOAL} % or more`);
process.exitCode = missed ? 1 : 0;
