// Least privilege: the verbs the chart grants the operator's ServiceAccount equal the verbs the
// operator's code uses (rbac-derive.ts reads them out of operator/**/*.ts), per API group and
// resource, with resource names where the code (or RBAC) allows limiting them.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { SNAPSHOT_CONFIGMAP } from '../../api/v1alpha1/snapshot.ts';
import { PUSH_CA_SECRET } from '../../operator/push/identity.ts';
import { deriveOperatorNeeds, leaseName, parseApiPath, plural, stripComments, type Need } from './rbac-derive.ts';
import { CHART, NAMESPACE, ROOT, SCENARIOS, getTools, render, type Manifest, type Obj, type Scenario } from './support.ts';

interface Grant {
  group: string;
  resource: string;
  verb: string;
  names?: string[];
  /** Role namespace, or undefined for a ClusterRole. */
  namespace?: string;
}

/** What the chart gives the operator's ServiceAccount, rule by rule, through its bindings. */
function grants(ms: Manifest[]): Grant[] {
  const sa = ms.find((m) => m.kind === 'ServiceAccount')!;
  const out: Grant[] = [];
  for (const b of ms.filter((m) => m.kind === 'RoleBinding' || m.kind === 'ClusterRoleBinding')) {
    const subjects = b.subjects as Obj[];
    if (!subjects.some((s) => s.kind === 'ServiceAccount' && s.name === sa.metadata.name && s.namespace === sa.metadata.namespace)) continue;
    const ref = b.roleRef as Obj;
    const role = ms.find((m) => m.kind === ref.kind && m.metadata.name === ref.name && (m.kind === 'ClusterRole' || m.metadata.namespace === b.metadata.namespace));
    if (!role) throw new Error(`${b.kind} ${b.metadata.name} refers to a missing ${ref.kind} ${ref.name}`);
    const namespace = b.kind === 'RoleBinding' ? b.metadata.namespace : undefined;
    for (const rule of role.rules as Obj[]) {
      for (const group of rule.apiGroups as string[])
        for (const resource of rule.resources as string[])
          for (const verb of rule.verbs as string[]) out.push({ group, resource, verb, ...(rule.resourceNames ? { names: rule.resourceNames as string[] } : {}), ...(namespace ? { namespace } : {}) });
    }
  }
  return out;
}

const key = (x: { group: string; resource: string; verb: string }) => `${x.group || 'core'}/${x.resource}:${x.verb}`;

const derived = deriveOperatorNeeds();
const rendered = new Map<string, Manifest[]>();
beforeAll(async () => {
  await getTools();
  for (const s of SCENARIOS) rendered.set(s.name, await render(s));
}, 600_000);
const [DEFAULTS, , WATCH_ONE, NO_LEADER] = SCENARIOS as [Scenario, Scenario, Scenario, Scenario];
/** What only the operator-managed webhook certificate needs (off with cert-manager or no webhook). */
const managedCertNeed = (n: { group: string; resource: string; verb: string }) =>
  n.group === 'admissionregistration.k8s.io' || (n.resource === 'secrets' && n.verb === 'update');

describe('what the operator’s code needs (derived from operator/**/*.ts)', () => {
  test('the derivation understood every call (no generic client, no unparsable watch path)', () => {
    expect(derived.problems).toEqual([]);
  });

  test('it finds the calls this operator is known to make', () => {
    // A floor, so a broken derivation that finds nothing cannot pass the comparison below.
    const keys = derived.needs.map(key);
    for (const k of ['airoute.dev/airoutes:list', 'airoute.dev/airoutes:watch', 'airoute.dev/airoutes/status:update', 'core/pods:watch', 'core/secrets:watch', 'core/configmaps:update', 'authentication.k8s.io/tokenreviews:create', 'coordination.k8s.io/leases:update'])
      expect(keys).toContain(k);
    const update = derived.needs.find((n) => key(n) === 'core/configmaps:update')!;
    expect(update.names).toEqual([SNAPSHOT_CONFIGMAP]);
    expect(update.where[0]).toMatch(/^operator\/snapshot\/configmaps\.ts:\d+$/);
    // Secrets are written only by the push CA and the webhook certificate code (their own Secrets,
    // in the operator's namespace: the chart's Role there).
    for (const verb of ['create', 'update'])
      expect(derived.needs.find((n) => key(n) === `core/secrets:${verb}`)!.where.every((w) => /^operator\/(push\/identity|webhook\/certs)\.ts:/.test(w)), verb).toBe(true);
    expect(derived.needs.find((n) => key(n) === 'core/secrets:get')!.where.some((w) => w.startsWith('operator/push/identity.ts:'))).toBe(true);
    expect(PUSH_CA_SECRET).toBe('airoute-push-ca');
  });

  test('the derivation’s helpers: plurals, API paths, comments', () => {
    expect(['Pod', 'Secret', 'Lease', 'Event', 'NetworkPolicy', 'Ingress', 'Endpoints'].map(plural)).toEqual(['pods', 'secrets', 'leases', 'events', 'networkpolicies', 'ingresses', 'endpoints']);
    expect(parseApiPath('/api/v1/namespaces/{ns}/secrets')).toEqual({ group: '', resource: 'secrets' });
    expect(parseApiPath('/apis/airoute.dev/v1alpha1/airoutes')).toEqual({ group: 'airoute.dev', resource: 'airoutes' });
    expect(stripComments("a.listPodForAllNamespaces() // b.deleteNamespacedPod()\nconst u = 'http://x'; /* c.createNamespacedPod() */")).not.toMatch(/deleteNamespacedPod|createNamespacedPod/);
    expect(stripComments("const u = 'http://x';")).toContain('http://x');
  });
});

describe('the chart grants exactly that', () => {
  test('same (group, resource, verb) set: default values', () => {
    const g = grants(rendered.get(DEFAULTS.name)!);
    expect([...new Set(g.map(key))].sort()).toEqual([...new Set(derived.needs.map(key))].sort());
  });

  test('with cert-manager issuing the webhook certificate: the same, less what managing it needs', () => {
    const g = grants(rendered.get(WATCH_ONE.name)!);
    expect([...new Set(g.map(key))].sort()).toEqual([...new Set(derived.needs.filter((n) => !managedCertNeed(n)).map(key))].sort());
  });

  test('without leader election nor webhook, no Lease or webhook-certificate permissions at all', () => {
    const g = grants(rendered.get(NO_LEADER.name)!);
    const needs = derived.needs.filter((n) => n.group !== 'coordination.k8s.io' && !managedCertNeed(n));
    expect([...new Set(g.map(key))].sort()).toEqual([...new Set(needs.map(key))].sort());
  });

  test('names: limited where the code limits itself, never on create (RBAC cannot check a name that does not exist yet)', () => {
    const g = grants(rendered.get(DEFAULTS.name)!);
    for (const n of derived.needs as Need[]) {
      const rules = g.filter((x) => key(x) === key(n));
      if (n.verb === 'create') {
        for (const r of rules) expect(r.names, `${key(n)} must not carry resourceNames`).toBeUndefined();
        continue;
      }
      if (n.names) for (const r of rules) expect(r.names?.slice().sort(), key(n)).toEqual(n.names.slice().sort());
    }
    // The Lease: every call uses the elector's configured name, which main.ts sets.
    const leaseSrc = stripComments(readFileSync(`${ROOT}operator/leader/lease.ts`, 'utf8'));
    expect(leaseSrc.match(/Lease\(\{[^}]*\bname\b/g)?.length).toBeGreaterThan(0);
    expect(leaseSrc).toMatch(/const \{ api, namespace, name, identity \} = this\.o;/);
    const name = leaseName();
    expect(name).toBe('airoute-operator');
    for (const r of g.filter((x) => x.resource === 'leases' && x.verb !== 'create')) expect(r.names).toEqual([name]);
  });

  // The Lease and the push CA live in the release namespace (where POD_NAMESPACE points the operator).
  const releaseOnly = (r: Grant) => r.group === 'coordination.k8s.io' || (r.resource === 'secrets' && ['create', 'get', 'update'].includes(r.verb));
  // Cluster-scoped objects need a ClusterRole even when one namespace is watched.
  const clusterScoped = (r: Grant) => r.group === 'admissionregistration.k8s.io' || r.group === 'authentication.k8s.io';

  test('scope: the Lease and the push CA Secret only in the release namespace; the rest cluster-wide, or only in the watched namespace', () => {
    const g = grants(rendered.get(DEFAULTS.name)!);
    for (const r of g) {
      if (releaseOnly(r)) expect(r.namespace, key(r)).toBe(NAMESPACE);
      else expect(r.namespace, key(r)).toBeUndefined();
    }
    for (const r of grants(rendered.get(WATCH_ONE.name)!)) if (!clusterScoped(r)) expect(r.namespace, key(r)).toBe(releaseOnly(r) ? NAMESPACE : 'team-a');
  });

  test('no Secret write outside the release namespace (it cannot mint a token for another namespace’s ServiceAccount); there, updates only of its own webhook certificate', () => {
    for (const s of SCENARIOS) {
      const g = grants(rendered.get(s.name)!).filter((r) => r.resource === 'secrets');
      expect(g.filter((r) => !['list', 'watch'].includes(r.verb)).every((r) => r.namespace === NAMESPACE), s.name).toBe(true);
      for (const r of g.filter((x) => x.verb === 'update')) expect(r.names).toEqual(['airoute-webhook-tls']);
    }
  });

  test('no wildcards, no escalation verbs, no write on any spec', () => {
    for (const s of SCENARIOS)
      for (const r of grants(rendered.get(s.name)!)) {
        expect([r.group, r.resource, r.verb]).not.toContain('*');
        expect(['bind', 'escalate', 'impersonate', 'deletecollection', 'delete', 'patch']).not.toContain(r.verb);
        if (r.group === 'airoute.dev') expect(r.resource === 'airoutes/status' || ['list', 'watch'].includes(r.verb), key(r)).toBe(true);
      }
  });

  test('every rule in the RBAC template says why, in a comment right above it', () => {
    const lines = readFileSync(`${ROOT}${CHART}/templates/rbac.yaml`, 'utf8').split('\n');
    const rules = lines.map((l, i) => [l, i] as const).filter(([l]) => /^\s*- apiGroups:/.test(l));
    expect(rules.length).toBe(14);
    for (const [, i] of rules) expect(lines[i - 1], `rbac.yaml line ${i + 1}`).toMatch(/^\s*#\s*\S/);
  });
});

test('the ServiceAccount’s token is mounted (the operator authenticates with it) and nothing else is granted to it', () => {
  const ms = rendered.get(DEFAULTS.name)!;
  const d = ms.find((m) => m.kind === 'Deployment')!;
  const spec = ((d.spec as Obj).template as Obj).spec as Obj;
  expect(spec.serviceAccountName).toBe(ms.find((m) => m.kind === 'ServiceAccount')!.metadata.name);
  expect(spec.automountServiceAccountToken).toBe(true);
  const bindings = ms.filter((m) => m.kind.endsWith('Binding'));
  expect(bindings.length).toBe(4); // the operator's rules, its own Secrets, the webhook caBundle, leader election
});
