import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { ConfigError, loadConfigFile } from './load.ts';
import { envSecrets } from './runtime.ts';

const run = promisify(execFile);

async function file(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airoute-config-'));
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

const YAML = `
backends:
  - name: primary
    type: openai-compatible
    baseURL: http://127.0.0.1:9000/v1
    apiKey: { env: PRIMARY_KEY }
  - name: claude
    type: anthropic
    apiKey: { env: ANTHROPIC_API_KEY }
routes:
  - model: chat
    backends:
      - { backend: primary, model: gpt-4o-mini }
      - { backend: claude, model: claude-haiku-4-5 }
    resume: prefill
`;

test('a YAML file loads with keys from the environment and defaults applied', async () => {
  const c = await loadConfigFile(await file('c.yaml', YAML), envSecrets({ PRIMARY_KEY: 'k1', ANTHROPIC_API_KEY: 'k2' }));
  const route = c.routes.get('chat')!;
  expect(route.targets.map((t) => [t.backend.name, t.model, t.resume])).toEqual([
    ['primary', 'gpt-4o-mini', 'prefill'],
    ['claude', 'claude-haiku-4-5', 'prefill'],
  ]);
  expect(route.retry).toEqual({ attempts: 3, baseMs: 100, maxMs: 5000, honorRetryAfter: true, budgetPercent: 20, onTimeout: 'next' });
  expect(route.timeouts.firstTokenMs).toBe(30000);
  expect(c.backends.get('claude')!.baseURL).toBe('https://api.anthropic.com');
  expect(c.backends.get('primary')!.apiKey).toBe('k1');
  expect(c.secrets).toEqual(['k1', 'k2']);
});

test('circuits: per backend for each of its models, overridden per deployment (shared by every target naming it), and a host breaker of its own', async () => {
  const yaml = `
backends:
  - name: acct
    type: openai-compatible
    baseURL: http://127.0.0.1:9000/v1
    circuit: { consecutiveFailures: 4, cooldownMs: 20000, host: { consecutiveFailures: 8 } }
routes:
  - model: chat
    backends:
      - { backend: acct, model: large, circuit: { cooldownMs: 5000 } }
      - { backend: acct, model: small }
  - model: big
    backends:
      - { backend: acct, model: large }
    retry: { onTimeout: retry }
`;
  const c = await loadConfigFile(await file('c.yaml', yaml), envSecrets({}));
  const [large, small] = c.routes.get('chat')!.targets;
  expect(large!.circuit).toEqual({ consecutiveFailures: 4, failureRatePercent: 50, minimumRequests: 20, windowMs: 30000, cooldownMs: 5000 });
  expect(small!.circuit).toEqual({ consecutiveFailures: 4, failureRatePercent: 50, minimumRequests: 20, windowMs: 30000, cooldownMs: 20000 });
  // The other route's target names the same deployment: the same circuit, override included.
  expect(c.routes.get('big')!.targets[0]!.circuit).toBe(large!.circuit);
  expect(c.backends.get('acct')!.hostCircuit).toEqual({ consecutiveFailures: 8, failureRatePercent: 50, minimumRequests: 20, windowMs: 30000, cooldownMs: 5000 });
  expect(c.routes.get('chat')!.retry.onTimeout).toBe('next');
  expect(c.routes.get('big')!.retry.onTimeout).toBe('retry');
});

test('JSON loads too (YAML is a superset)', async () => {
  const c = await loadConfigFile(
    await file('c.json', JSON.stringify({ backends: [{ name: 'd', type: 'demo' }], routes: [{ model: 'demo', backends: [{ backend: 'd' }] }] })),
    envSecrets({}),
  );
  expect([...c.routes.keys()]).toEqual(['demo']);
});

test('a missing environment variable is an error naming the path and the variable', async () => {
  const err = await loadConfigFile(await file('c.yaml', YAML), envSecrets({ PRIMARY_KEY: 'k1' })).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message).toContain('backends[1].apiKey.env: environment variable ANTHROPIC_API_KEY is not set');
});

test('a YAML syntax error is refused with its line', async () => {
  const err = await loadConfigFile(await file('c.yaml', 'backends:\n  - name: a\n   type: demo\n'), envSecrets({})).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message).toMatch(/line 3/i);
});

test('duplicate YAML keys are refused', async () => {
  const err = await loadConfigFile(await file('c.yaml', 'routes: []\nroutes: []\nbackends: []\n'), envSecrets({})).catch((e: unknown) => e);
  expect((err as Error).message).toMatch(/unique|duplicate/i);
});

test('an unreadable file says so', async () => {
  const err = await loadConfigFile('/nonexistent/airoute.yaml', envSecrets({})).catch((e: unknown) => e);
  expect((err as Error).message).toContain('cannot read file: ENOENT');
});

test('a prefill route on a backend that cannot prefill is downgraded to verify, and says so', async () => {
  const c = await loadConfigFile(
    await file('c.yaml', 'backends:\n  - {name: g, type: gemini}\nroutes:\n  - {model: m, backends: [{backend: g}], resume: prefill}\n'),
    envSecrets({}),
  );
  expect(c.routes.get('m')!.targets[0]!.resume).toBe('verify');
  expect(c.notes.join('\n')).toContain('routes[0].backends[0]: backend "g" (gemini) cannot continue an assistant prefix; resume uses verify there');
});

test('the CLI refuses an invalid file with exit code 2 and the path of each problem on stderr', async () => {
  const p = await file('bad.yaml', 'backends:\n  - {name: a, type: demo}\nroutes:\n  - {model: m, backends: [{backend: b}], retrys: 2}\n');
  const err = (await run('node_modules/.bin/node', ['cli/airoute.ts', 'sidecar', '--config', p, '--port', '0', '--admin-port', '0']).catch((e: unknown) => e)) as {
    code: number;
    stderr: string;
  };
  expect(err.code).toBe(2);
  expect(err.stderr).toContain('routes[0].retrys: unknown field');
});
