// The code's shape, checked: no import cycles (type-only imports included, since a type cycle is
// still two modules that cannot be understood apart), the layering the docs describe, and small
// files on the data path.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const SOURCE_DIRS = ['api', 'cli', 'sidecar', 'operator', 'client'];

function walk(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) return walk(rel);
    return rel.endsWith('.ts') && !rel.endsWith('.test.ts') ? [rel] : [];
  });
}

const FILES = SOURCE_DIRS.flatMap(walk);

/** Every relative import of a file (static, dynamic, type-only), resolved to a repository path. */
function importsOf(file: string): string[] {
  const src = readFileSync(join(ROOT, file), 'utf8');
  const specs = [
    ...src.matchAll(/^\s*(?:import|export)\s[^'";]*?\sfrom\s+['"](\.[^'"]+)['"]/gm),
    ...src.matchAll(/^\s*import\s+['"](\.[^'"]+)['"]/gm),
    ...src.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return specs.map((s) => relative(ROOT, resolve(dirname(join(ROOT, file)), s)));
}

const GRAPH = new Map(FILES.map((f) => [f, importsOf(f)]));

/** Strongly connected components with more than one module (Tarjan). */
function cycles(): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of GRAPH.get(v) ?? []) {
      if (!GRAPH.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (GRAPH.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const f of FILES) if (!idx.has(f)) visit(f);
  return out;
}

test('the import graph has no cycles (type-only imports included)', () => {
  expect(FILES.length).toBeGreaterThan(80);
  expect(cycles()).toEqual([]);
});

describe('layering', () => {
  const rules: [from: string, mustNotImport: string[], why: string][] = [
    ['api/', ['sidecar/', 'operator/', 'cli/', 'client/'], 'the schemas are the one source of truth and do no I/O'],
    ['client/', ['sidecar/', 'operator/', 'cli/'], 'the client runs in browsers from its own folder'],
    ['sidecar/wire/', ['sidecar/providers/', 'sidecar/stages/', 'sidecar/pipeline/', 'sidecar/server/', 'sidecar/requests/', 'sidecar/events/'], 'codecs are pure translations'],
    ['sidecar/stages/', ['sidecar/server/', 'sidecar/requests/'], 'policies know nothing of HTTP or async records'],
    ['sidecar/pipeline/', ['sidecar/server/', 'sidecar/requests/'], 'the pipeline owns a request, not its transport'],
    ['sidecar/requests/', ['sidecar/server/'], 'async requests run through the pipeline, not the HTTP layer'],
    ['sidecar/responses/', ['sidecar/server/'], 'Responses API state runs on requests and the journal, not the HTTP layer'],
    ['sidecar/events/', ['sidecar/server/', 'sidecar/requests/', 'sidecar/pipeline/'], 'the journal is below everything that emits into it'],
    ['sidecar/', ['operator/'], 'the sidecar image carries no operator code'],
    ['operator/', ['sidecar/server/', 'sidecar/pipeline/', 'sidecar/stages/'], 'the operator compiles configs; it does not run the data path'],
  ];
  for (const [from, forbidden, why] of rules)
    test(`${from} never imports ${forbidden.join(', ')}: ${why}`, () => {
      const bad = [...GRAPH].flatMap(([file, deps]) => (file.startsWith(from) ? deps.filter((d) => forbidden.some((f) => d.startsWith(f))).map((d) => `${file} -> ${d}`) : []));
      expect(bad).toEqual([]);
    });
});

test('no file on the data path is over 400 lines: past that a module holds more than one concern', () => {
  const long = FILES.filter((f) => f.startsWith('sidecar/'))
    .map((f) => [f, readFileSync(join(ROOT, f), 'utf8').split('\n').length] as const)
    .filter(([, n]) => n > 400)
    .map(([f, n]) => `${f}: ${n} lines`);
  expect(long).toEqual([]);
});

test('every stage, pipeline module and wire codec with code in it has a unit test beside it', () => {
  const hasCode = (f: string) => /^export\s+(const|function|async function|class|function\*|async function\*)\s/m.test(readFileSync(join(ROOT, f), 'utf8'));
  const untested = FILES.filter((f) => /^sidecar\/(stages|pipeline|wire)\//.test(f) && hasCode(f)).filter((f) => {
    try {
      return !statSync(join(ROOT, f.replace(/\.ts$/, '.test.ts'))).isFile();
    } catch {
      return true;
    }
  });
  expect(untested).toEqual([]);
});
