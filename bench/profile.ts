// `npm run bench:profile`: where the sidecar's CPU goes. Runs `npm run bench` once per profiled
// scenario (rps: non-streamed requests at c=64/256 and at capacity; stream: streamed answers of 64
// chunks) with the sidecar under `--cpu-prof`, then writes a flame graph per scenario
// (bench/results/profile-<scenario>.svg) and the top frames and modules by self time
// (bench/results/profile.md). The sidecar runs from the compiled build, as deployed.
//
//   node bench/profile.ts [--quick] [--only rps,stream] [--out DIR]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { flameGraphSvg, topFrames } from './lib/flamegraph.ts';
import { RESULTS, ROOT } from './lib/harness.ts';
import { projectNode } from './lib/meta.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: 'rps,stream' },
    out: { type: 'string', default: RESULTS },
  },
  strict: true,
});

const WHAT: Record<string, string> = {
  rps: 'non-streamed chat completions through the sidecar at c=64 and c=256 (20 ms upstream) and at capacity',
  stream: 'streamed chat completions of 64 chunks through the sidecar',
};

const node = projectNode(ROOT);
execFileSync(node, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
mkdirSync(flags.out, { recursive: true });
const sections: string[] = [];
for (const scenario of flags.only.split(',').map((s) => s.trim())) {
  if (!WHAT[scenario]) throw new Error(`--only: ${scenario} is not profiled (one of ${Object.keys(WHAT).join(', ')})`);
  const dir = mkdtempSync(path.join(os.tmpdir(), `airoute-prof-${scenario}-`));
  const args = ['bench/run.ts', '--only', scenario, '--sidecar-entry=dist', `--sidecar-node-args=--cpu-prof --cpu-prof-dir=${dir}`, '--out', dir];
  if (flags.quick) args.push('--quick');
  execFileSync(node, args, { cwd: ROOT, stdio: 'inherit' });
  // One profile per sidecar process; the scenario's own sidecar is the one that ran longest.
  const profiles = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f))
    .sort((a, b) => statSync(b).size - statSync(a).size);
  const file = profiles[0];
  if (!file) throw new Error(`no .cpuprofile was written for ${scenario} (in ${dir})`);
  writeFileSync(path.join(flags.out, `profile-${scenario}.svg`), flameGraphSvg(file, `airoute sidecar: ${WHAT[scenario]}`));
  const top = topFrames(file);
  sections.push(`## ${scenario}: ${WHAT[scenario]}\n\n![flame graph](profile-${scenario}.svg)\n\nBy module (self time, share of the sidecar's busy time):\n\n${top.origins}\n\nBy frame:\n\n${top.frames}\n`);
}
writeFileSync(
  path.join(flags.out, 'profile.md'),
  `# Where the sidecar's CPU goes\n\n${new Date().toISOString()} · ${os.cpus().length} cores · \`node bench/profile.ts${flags.quick ? ' --quick' : ''}\`\n\nSelf time is the time a frame itself ran (its callees excluded); idle and "(program)" samples are left out. What each top frame is and what was done about it: bench/README.md, "Profile".\n\n${sections.join('\n')}`,
);
console.log(`written: ${path.relative(process.cwd(), path.join(flags.out, 'profile.md'))} and ${sections.length} flame graph(s)`);
