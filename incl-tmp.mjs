import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map(); p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + Math.max(0, p.timeDeltas[i] ?? 0)));
const incl = new Map(); let busy = 0;
for (const [id, us] of self) {
  const n = byId.get(id); if (['(idle)','(program)'].includes(n.callFrame.functionName)) continue; busy += us;
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) { const cf = byId.get(cur).callFrame; const k = `${cf.functionName} ${cf.url.replace(/.*\/(sidecar|node_modules)\//,'$1/')}:${cf.lineNumber+1}`; if (seen.has(k)) continue; seen.add(k); incl.set(k, (incl.get(k) ?? 0) + us); }
}
const re = new RegExp(process.argv[3] ?? 'sidecar/');
console.log('busy ms', (busy/1000).toFixed(0));
console.log([...incl].filter(([k]) => re.test(k)).sort((a,b)=>b[1]-a[1]).slice(0, Number(process.argv[4] ?? 50)).map(([k,v]) => `${(100*v/busy).toFixed(1).padStart(5)}% ${k}`).join('\n'));
