// Renders the parameter table in docs/translation.md from sidecar/wire/parameters.ts, the table the
// adapters are checked against (test/parameters.test.ts). `--check` exits 1 when the file is stale
// instead of writing it (test/docs.test.ts runs the check).
import { readFile, writeFile } from 'node:fs/promises';
import { PARAMETERS, TABLE_BACKENDS, type Cell } from '../sidecar/wire/parameters.ts';

const DOC = new URL('../docs/translation.md', import.meta.url);
const OPEN = '<!-- table:parameters -->';
const CLOSE = '<!-- /table:parameters -->';

const code = (names: readonly string[] | undefined) => (names?.length ? names.map((n) => `\`${n}\``).join(', ') : '—');

function cell(c: Cell): string {
  if (c === null) return '**400**';
  if (typeof c === 'string') return c === 'as sent' ? 'as sent' : `\`${c}\``;
  return `left out: ${c.ignored}`;
}

export function table(): string {
  const head = ['OpenAI client', 'Anthropic client', ...TABLE_BACKENDS.map((b) => `→ ${b}`), 'notes'];
  const rows = PARAMETERS.map((r) => [code(r.client.openai), code(r.client.anthropic), ...TABLE_BACKENDS.map((b) => cell(r.backend[b])), r.note ?? '']);
  const line = (cols: readonly string[]) => `| ${cols.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export async function render(): Promise<{ current: string; next: string }> {
  const current = await readFile(DOC, 'utf8');
  const start = current.indexOf(OPEN);
  const end = current.indexOf(CLOSE);
  if (start === -1 || end < start) throw new Error(`docs/translation.md has no ${OPEN} ... ${CLOSE} markers`);
  const next = `${current.slice(0, start + OPEN.length)}\n${table()}\n${current.slice(end)}`;
  return { current, next };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { current, next } = await render();
  if (process.argv.includes('--check')) {
    if (current !== next) {
      console.error('docs/translation.md is stale: run npm run docs:translation');
      process.exit(1);
    }
    console.log('docs/translation.md is up to date');
  } else {
    await writeFile(DOC, next);
    console.log('docs/translation.md regenerated');
  }
}
