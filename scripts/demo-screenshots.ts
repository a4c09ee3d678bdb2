// Screenshots of the demo page, one per demo route, for the README and docs/demo/: a real sidecar
// on the built-in demo, the page in headless Chromium, every pattern run to its end.
// `npm run docs:screenshots` regenerates them; `--check` (a test runs the same check) exits 1 when
// the files that decide what the page shows changed since the screenshots were taken.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { toPalette } from './png-palette.ts';

const ROOT = new URL('../', import.meta.url);
const OUT = new URL('docs/demo/', ROOT);
const MANIFEST = new URL('screenshots.json', OUT);
/** Files whose content decides what a screenshot shows (the demo's script, the page, the client). */
const INPUT_DIRS = ['client', 'sidecar/server/demo', 'sidecar/server/demo/page'];
const INPUT_FILES = ['sidecar/server/demo-ui.ts', 'sidecar/config/demo.ts', 'sidecar/upstream/demo.ts', 'scripts/demo-screenshots.ts', 'scripts/png-palette.ts'];

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Manifest {
  /** sha256 over the input files, each as `path\ncontent\n`, in path order. */
  inputs: string;
  files: string[];
  screenshots: { model: string; file: string }[];
}

export async function inputFiles(): Promise<string[]> {
  const files = [...INPUT_FILES];
  for (const dir of INPUT_DIRS)
    for (const name of await readdir(new URL(`${dir}/`, ROOT)))
      if (name.endsWith('.ts') && !name.endsWith('.test.ts')) files.push(`${dir}/${name}`);
  return [...new Set(files)].sort();
}

export async function inputsHash(files: string[]): Promise<string> {
  const h = createHash('sha256');
  for (const f of files) h.update(`${f}\n${await readFile(new URL(f, ROOT), 'utf8')}\n`);
  return h.digest('hex');
}

export async function readManifest(): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(MANIFEST, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/** Why the committed screenshots are stale, or undefined when they are current. */
export async function staleness(): Promise<string | undefined> {
  const files = await inputFiles();
  const manifest = await readManifest();
  if (!manifest) return 'docs/demo/screenshots.json is missing';
  if ((await inputsHash(files)) !== manifest.inputs) return 'the demo page, its client or the demo script changed since the screenshots were taken';
  const have = new Set(await readdir(OUT));
  const missing = manifest.screenshots.filter((s) => !have.has(s.file)).map((s) => s.file);
  return missing.length ? `missing: ${missing.join(', ')}` : undefined;
}

async function capture(): Promise<void> {
  const { chromium } = await import('playwright-core');
  const { createLogger } = await import('../sidecar/log.ts');
  const { startSidecar } = await import('../sidecar/start.ts');
  const { DEMO_ROUTES } = await import('../sidecar/config/demo.ts');
  const files = await inputFiles();
  const inputs = await inputsHash(files);
  const sc = await startSidecar({ port: 0, adminPort: 0, demoUi: true, logger: createLogger('silent') });
  // Grayscale text antialiasing: colour fringes would double the size of every PNG.
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: [...CHROMIUM_ARGS, '--disable-lcd-text'] });
  const screenshots: Manifest['screenshots'] = [];
  try {
    await mkdir(OUT, { recursive: true });
    for (const { model } of DEMO_ROUTES) {
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${sc.dataURL}/airoute/demo?model=${model}&run=1`);
      await page.waitForFunction(() => (window as unknown as { __demo?: { done: boolean } }).__demo?.done === true, undefined, { timeout: 30_000 });
      if (errors.length) throw new Error(`the page failed on ${model}: ${errors.join('; ')}`);
      const file = `${model}.png`;
      await writeFile(new URL(file, OUT), toPalette(await page.screenshot({ fullPage: true })));
      screenshots.push({ model, file });
      await page.close();
      console.log(`docs/demo/${file}`);
    }
  } finally {
    await browser.close();
    await sc.close();
  }
  const manifest: Manifest = { inputs, files, screenshots };
  await writeFile(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--check')) {
    const why = await staleness();
    if (why) {
      console.error(`docs/demo screenshots are stale (${why}): run npm run docs:screenshots`);
      process.exit(1);
    }
    console.log('docs/demo screenshots are current');
  } else await capture();
}
