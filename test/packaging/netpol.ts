// Ingress NetworkPolicy semantics (networking.k8s.io/v1, as the Kubernetes documentation defines
// them), to ask of the chart's policies what a CNI would answer: may this pod reach that port of
// that pod? A pod selected by no Ingress policy accepts everything; a pod selected by one or more
// accepts exactly the union of what their rules allow (a rule without `from` allows any source, a
// rule without `ports` any port). Peers: podSelector (same namespace as the policy),
// namespaceSelector (any pod of the matching namespaces), both (pods matching in matching
// namespaces), ipBlock (not modelled here: no pod IPs).
import type { Obj } from './support.ts';

export interface PodRef {
  namespace: string;
  labels: Record<string, string>;
}

export interface World {
  /** namespace → its labels (kubernetes.io/metadata.name is added). */
  namespaces: Record<string, Record<string, string>>;
  policies: Obj[];
}

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };

function matches(sel: Selector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key]!);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

export function allowed(w: World, from: PodRef, to: PodRef, port: number, protocol = 'TCP'): boolean {
  const nsLabels = (ns: string) => ({ ...(w.namespaces[ns] ?? {}), 'kubernetes.io/metadata.name': ns });
  const selecting = w.policies.filter((p) => {
    const meta = p.metadata as Obj;
    const spec = p.spec as Obj;
    const types = (spec.policyTypes as string[] | undefined) ?? ['Ingress'];
    return meta.namespace === to.namespace && types.includes('Ingress') && matches(spec.podSelector as Selector, to.labels);
  });
  if (!selecting.length) return true;
  return selecting.some((p) =>
    ((((p.spec as Obj).ingress as Obj[] | undefined) ?? []) as { from?: Obj[]; ports?: { protocol?: string; port?: number; endPort?: number }[] }[]).some((rule) => {
      const portOk = !rule.ports || rule.ports.some((x) => (x.protocol ?? 'TCP') === protocol && (x.port === undefined || (port >= x.port && port <= (x.endPort ?? x.port))));
      const peerOk =
        !rule.from ||
        rule.from.some((peer) => {
          const ps = peer.podSelector as Selector | undefined;
          const ns = peer.namespaceSelector as Selector | undefined;
          if (!ps && !ns) return false; // ipBlock only
          const nsOk = ns ? matches(ns, nsLabels(from.namespace)) : from.namespace === (p.metadata as Obj).namespace;
          return nsOk && matches(ps, from.labels);
        });
      return portOk && peerOk;
    }),
  );
}
