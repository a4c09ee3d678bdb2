// A V8 .cpuprofile (node --cpu-prof) as a flame graph SVG (icicle layout: the root at the top,
// where the wide frames are, each frame as wide as the samples under it, siblings sorted by name
// so two runs compare side by side), plus the table of top frames by self time that bench/README.md discusses.
// No dependency: the profile is JSON and the SVG is a few hundred rectangles.
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface Frame {
  name: string;
  /** Microseconds of samples in this frame and below it. */
  total: number;
  self: number;
  children: Map<string, Frame>;
}

/** Where a frame comes from, short: `undici`, `node:_http_server`, `sidecar/pipeline/deliver.ts`. */
export function origin(url: string): string {
  if (!url) return '';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return url;
  const own = /\/((?:sidecar|api|cli|client|operator)\/.*)$/.exec(url);
  return own ? own[1]! : url.replace(/^.*\//, '');
}

function label(cf: CallFrame): string {
  const fn = cf.functionName || '(anonymous)';
  const where = origin(cf.url);
  return where ? `${fn} ${where}:${cf.lineNumber + 1}` : fn;
}

/** Idle time is not work: the graph and the table cover the samples where the process ran. */
const NOT_WORK = new Set(['(idle)', '(program)']);

export function loadProfile(file: string): { root: Frame; busyUs: number; totalUs: number; selfByFrame: Map<string, number>; selfByOrigin: Map<string, number> } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  p.samples.forEach((id, i) => {
    const d = Math.max(0, p.timeDeltas[i] ?? 0);
    totalUs += d;
    selfUs.set(id, (selfUs.get(id) ?? 0) + d);
  });
  const root: Frame = { name: 'all', total: 0, self: 0, children: new Map() };
  const selfByFrame = new Map<string, number>();
  const selfByOrigin = new Map<string, number>();
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    if (NOT_WORK.has(node.callFrame.functionName)) continue;
    busyUs += us;
    const stack: CallFrame[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      if (cf.functionName !== '(root)') stack.push(cf);
    }
    stack.reverse();
    let f = root;
    f.total += us;
    for (const cf of stack) {
      const key = label(cf);
      let next = f.children.get(key);
      if (!next) f.children.set(key, (next = { name: key, total: 0, self: 0, children: new Map() }));
      next.total += us;
      f = next;
    }
    f.self += us;
    const leaf = label(node.callFrame);
    selfByFrame.set(leaf, (selfByFrame.get(leaf) ?? 0) + us);
    const o = origin(node.callFrame.url) || node.callFrame.functionName;
    selfByOrigin.set(o, (selfByOrigin.get(o) ?? 0) + us);
  }
  return { root, busyUs, totalUs, selfByFrame, selfByOrigin };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Warm colours for our own code, blue for Node's, grey for dependencies: where to look is visible at a glance. */
function colour(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  const jitter = h % 30;
  if (/ (sidecar|api|cli|client)\//.test(name)) return `hsl(${20 + jitter},85%,${58 + (h % 10)}%)`;
  if (/ node:/.test(name) || !name.includes(' ')) return `hsl(${205 + jitter},55%,${68 + (h % 10)}%)`;
  return `hsl(0,0%,${70 + (h % 15)}%)`;
}

export function flameGraphSvg(file: string, title: string, width = 1600): string {
  const { root, busyUs, totalUs } = loadProfile(file);
  const rowH = 17;
  const minUs = root.total / width; // frames narrower than a pixel are left out
  let depth = 0;
  const rects: string[] = [];
  const walk = (f: Frame, x: number, level: number) => {
    depth = Math.max(depth, level);
    const w = (f.total / root.total) * width;
    rects.push(
      `<g><title>${esc(f.name)} (${((100 * f.total) / root.total).toFixed(2)}% of busy time, self ${((100 * f.self) / root.total).toFixed(2)}%)</title><rect x="${x.toFixed(1)}" y="LEVEL${level}" width="${Math.max(0.5, w - 0.5).toFixed(1)}" height="${rowH - 1}" fill="${colour(f.name)}"/>${w > 40 ? `<text x="${(x + 3).toFixed(1)}" y="TEXT${level}">${esc(f.name.slice(0, Math.floor(w / 6.5)))}</text>` : ''}</g>`,
    );
    let cx = x;
    for (const c of [...f.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      if (c.total >= minUs) walk(c, cx, level + 1);
      cx += (c.total / root.total) * width;
    }
  };
  walk(root, 0, 0);
  const top = 40;
  const height = top + (depth + 1) * rowH + 10;
  const y = (level: number) => top + level * rowH;
  const body = rects.join('\n').replace(/LEVEL(\d+)/g, (_, l: string) => String(y(Number(l)))).replace(/TEXT(\d+)/g, (_, l: string) => String(y(Number(l)) + 12));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="4" y="16" font-size="14" font-family="sans-serif">${esc(title)}</text>
<text x="4" y="32" font-family="sans-serif" fill="#555">busy ${(busyUs / 1000).toFixed(0)} ms of ${(totalUs / 1000).toFixed(0)} ms sampled; orange: airoute, blue: Node.js, grey: dependencies; hover a frame for its share</text>
${body}
</svg>
`;
}

/** The top frames by self time, as a Markdown table (share of busy time). */
export function topFrames(file: string, n = 15): { frames: string; origins: string } {
  const { busyUs, selfByFrame, selfByOrigin } = loadProfile(file);
  const table = (m: Map<string, number>, head: string) =>
    [`| ${head} | self |`, '|---|---|', ...[...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `| \`${k}\` | ${((100 * v) / busyUs).toFixed(1)} % |`)].join('\n');
  return { frames: table(selfByFrame, 'frame'), origins: table(selfByOrigin, 'module') };
}
