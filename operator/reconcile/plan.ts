// Reconcile's decision, as a pure function: (AIRoute, what was observed) → what to push where,
// which config version that is, and what the status and Events say. No I/O, no clock; the shell
// (apply.ts) gathers the observation, carries the plan out and stamps times.
//
// Versions. The document's version only ever increases, across operator restarts and leader
// changes, because it lives in status: the same content keeps its version; new content gets the
// next one, written to status *before* any sidecar sees it. It also never goes below a version a
// target sidecar already runs with other content (a pod that moved here from another AIRoute, an
// AIRoute deleted and recreated), or the sidecar would refuse it as stale.
//
// Two AIRoutes selecting one pod. The pod belongs to the oldest of them (creationTimestamp, then
// name): it keeps the config it has, nobody can take it over by creating a new AIRoute, and the
// outcome does not depend on which one reconciles first. Both carry Conflict=True naming the
// other; the younger one leaves the pod out of its targets and is not Ready.
import type { AIRoute, AIRouteSpec, ConditionType } from '../../api/v1alpha1/airoute.ts';
import type { SidecarConfig } from '../../api/v1alpha1/config.ts';
import { formatIssue, type ConfigIssue } from '../../api/v1alpha1/validate.ts';
import { redact } from '../redact.ts';
import { compileRoute, type ConfigDefaults, type SecretsView } from './compile.ts';
import type { DesiredCondition } from './conditions.ts';
import { createdAt, olderThan, type RouteClaim } from './owner.ts';
import { selects } from './selector.ts';

/** What the operator knows about one pod's sidecar (this incarnation of it). */
export interface SidecarObservation {
  /** The version and hash the sidecar reported (GET /config or a push answer); absent if never reached. */
  running?: { version: number; hash: string | null };
  /** The sidecar refused this version with these reasons (422); it is not pushed again. */
  rejected?: { version: number; message: string };
  /** The last attempt to reach it failed. */
  unreachable?: string;
}

export interface PodView {
  name: string;
  labels: Record<string, string>;
  /** The pod has the airoute sidecar container. */
  injected: boolean;
  /** Admin endpoint, once the pod has an IP. */
  address?: string;
  /** status.phase: only Running pods count for Ready (a pod still starting does not). */
  phase?: string;
  sidecar: SidecarObservation;
}

export type OtherRoute = RouteClaim;

export interface Observed {
  secrets: SecretsView;
  /** Pods in the namespace (terminated and deleting ones already left out). */
  pods: readonly PodView[];
  otherRoutes: readonly OtherRoute[];
  /** Operator-wide defaults for what the spec leaves out. */
  defaults?: ConfigDefaults;
}

export type EventType = 'Normal' | 'Warning';
export interface PlannedEvent {
  type: EventType;
  reason: string;
  message: string;
}

export interface Plan {
  /** The document and its version, when the spec compiled; `snapshot` is its ConfigMap form. */
  desired?: { version: number; hash: string; config: SidecarConfig; snapshot: unknown };
  /** Write {configVersion, configHash} to status before pushing (a new version is being minted). */
  persistVersion: boolean;
  /** Pods to push desired.version to. */
  push: string[];
  status: {
    observedGeneration: number;
    configVersion: number;
    configHash?: string;
    targetPods: number;
    syncedPods: number;
    conditions: DesiredCondition[];
  };
  events: PlannedEvent[];
  /** Secret values in use, for redaction by the shell. */
  secrets: string[];
}

const MAX_NAMED = 5;

function nameSome(names: string[]): string {
  const shown = names.slice(0, MAX_NAMED).join(', ');
  return names.length > MAX_NAMED ? `${shown} and ${names.length - MAX_NAMED} more` : shown;
}

function issuesText(issues: ConfigIssue[]): string {
  const lines = issues.map(formatIssue);
  return lines.length > 10 ? `${lines.slice(0, 10).join('; ')}; and ${lines.length - 10} more` : lines.join('; ');
}

export function plan(route: AIRoute, seen: Observed): Plan {
  const spec: AIRouteSpec = route.spec;
  const generation = route.metadata.generation ?? 0;
  const status = route.status ?? {};
  const me = { name: route.metadata.name ?? '', createdAt: createdAt(route) };

  // Which pods are ours: selected, injected, and not owned by an older AIRoute.
  const selected = seen.pods.filter((p) => selects(spec.podSelector ?? {}, p.labels));
  const lostTo = new Map<string, string[]>(); // other route → pods it keeps
  const sharedWith = new Map<string, string[]>(); // other route → pods we keep
  const targets = selected.filter((p) => {
    const claimants = seen.otherRoutes.filter((o) => selects(o.podSelector, p.labels));
    const owner = claimants.reduce<{ name: string; createdAt: string }>((best, o) => (olderThan(o, best) ? o : best), me);
    const note = (bucket: Map<string, string[]>, other: string) => bucket.set(other, [...(bucket.get(other) ?? []), p.name]);
    if (owner !== me) note(lostTo, owner.name);
    else for (const o of claimants) note(sharedWith, o.name);
    return owner === me;
  });

  const compiled = compileRoute(spec, seen.secrets, seen.defaults);
  const secrets = compiled.secrets;
  const scrub = (s: string) => redact(s, secrets);

  let desired: Plan['desired'];
  let persistVersion = false;
  const statusVersion = status.configVersion ?? 0;
  // Stryker disable next-line LogicalOperator: compileRoute gives a config and its hash together or neither; both are named for the type checker
  if (compiled.config && compiled.hash) {
    const hash = compiled.hash;
    let version = hash === status.configHash && statusVersion > 0 ? statusVersion : statusVersion + 1;
    for (const p of targets) {
      const r = p.sidecar.running;
      if (!r) continue;
      if (r.hash === hash) version = Math.max(version, r.version);
      else if (r.version >= version) version = r.version + 1;
    }
    persistVersion =
      version !== statusVersion ||
      // Stryker disable next-line ConditionalExpression: new content always gets a version above status's (above), so this test never decides alone; it states the rule
      hash !== status.configHash;
    desired = { version, hash, config: compiled.config, snapshot: compiled.snapshot };
  }

  // The version the pods should run: the new one, or the last good one while the spec is broken.
  const goal = desired ? { version: desired.version, hash: desired.hash } : status.configHash ? { version: statusVersion, hash: status.configHash } : undefined;
  const isSynced = (p: PodView) => !!goal && p.sidecar.running?.version === goal.version && p.sidecar.running.hash === goal.hash;
  const synced = targets.filter(isSynced);
  // Which pods Ready answers for: Running, with a sidecar that is up and was reached. A pod still
  // starting, or one the operator cannot reach right now, does not make the route un-Ready (a
  // rollout would flap it); both show in Progressing and in syncedPods/targetPods.
  const counts = (p: PodView) => p.injected && p.phase === 'Running' && !!p.address && !p.sidecar.unreachable;
  const push: string[] = [];
  const rejected: { pod: string; message: string }[] = [];
  const unreachable: string[] = [];
  const noSidecar: string[] = [];
  const starting: string[] = [];
  const pending: string[] = [];
  for (const p of targets) {
    if (isSynced(p)) continue;
    if (!p.injected) noSidecar.push(p.name);
    else if (!p.address) starting.push(p.name);
    else if (desired && p.sidecar.rejected?.version === desired.version) rejected.push({ pod: p.name, message: p.sidecar.rejected.message });
    else {
      // Pods still starting are pushed too: the push is what makes their sidecar ready.
      if (desired) push.push(p.name);
      if (p.sidecar.unreachable) unreachable.push(p.name);
      else if (p.phase !== 'Running') starting.push(p.name);
      else pending.push(p.name);
    }
  }

  const conditions: DesiredCondition[] = [];
  const cond = (type: ConditionType, ok: boolean, reason: string, message: string) =>
    conditions.push({ type, status: ok ? 'True' : 'False', reason, message: scrub(message) });

  if (compiled.invalid.length) cond('Accepted', false, 'Invalid', `spec is invalid: ${issuesText(compiled.invalid)}`);
  else cond('Accepted', true, 'Accepted', 'spec is valid');
  if (compiled.unresolved.length) cond('ResolvedRefs', false, 'SecretNotResolved', issuesText(compiled.unresolved));
  else cond('ResolvedRefs', true, 'ResolvedRefs', 'every secretKeyRef resolved');

  const n = targets.length;
  const version = goal?.version ?? 0;
  const counted = targets.filter(counts);
  const running = targets.filter((p) => p.injected && p.phase === 'Running' && p.address);
  const ratio = `${synced.length}/${n} pods run config version ${version}`;
  const detail = [
    ...(starting.length ? [`starting: ${nameSome(starting)}`] : []),
    ...(pending.length ? [`being pushed: ${nameSome(pending)}`] : []),
    ...(unreachable.length ? [`unreachable: ${nameSome(unreachable)}`] : []),
  ].join('; ');

  // Synced: every pod Ready answers for runs the version.
  let syncedOk = false;
  let syncedReason: string;
  let syncedMessage: string;
  if (!goal) {
    syncedReason = 'NoConfig';
    syncedMessage = 'no valid config has been compiled yet';
  } else if (rejected.length) {
    syncedReason = 'Rejected';
    syncedMessage = `sidecar of pod ${rejected[0]!.pod} rejected config version ${version}: ${rejected[0]!.message}` + (rejected.length > 1 ? ` (and ${rejected.length - 1} more pods)` : '');
  } else if (noSidecar.length) {
    syncedReason = 'NoSidecar';
    syncedMessage = `${ratio}; selected but without an airoute sidecar: ${nameSome(noSidecar)}`;
  } else if (running.length && !counted.length) {
    syncedReason = 'Unreachable';
    syncedMessage = `${ratio}; no running pod could be reached: ${nameSome(unreachable)}`;
  } else if (counted.every(isSynced)) {
    syncedOk = true;
    syncedReason = n ? 'Synced' : 'NoTargetPods';
    syncedMessage = !n ? 'no pod with an airoute sidecar is selected' : counted.length === n ? `${n}/${n} pods run config version ${version}` : `every running, reachable pod runs config version ${version} (${ratio}${detail ? `; ${detail}` : ''})`;
  } else {
    syncedReason = 'Pending';
    syncedMessage = `${ratio}; ${detail}`;
  }
  cond('Synced', syncedOk, syncedReason, syncedMessage);

  // Progressing: the version is still on its way to some selected pod (starting, being pushed,
  // or retried after a failure); False once every one runs it, or when it cannot get further.
  if (!goal) cond('Progressing', false, 'NoConfig', 'no valid config has been compiled yet');
  else if (rejected.length) cond('Progressing', false, 'Rejected', syncedMessage);
  else if (synced.length === n) cond('Progressing', false, 'Complete', n ? `${n}/${n} pods run config version ${version}` : 'no pod with an airoute sidecar is selected');
  else cond('Progressing', true, 'RollingOut', `${ratio}; ${detail || `selected but without an airoute sidecar: ${nameSome(noSidecar)}`}`);

  const lost = [...lostTo.entries()];
  const shared = [...sharedWith.entries()];
  if (lost.length) {
    cond('Conflict', true, 'PodsOwnedByOtherRoute', lost.map(([other, pods]) => `pods ${nameSome(pods)} are also selected by AIRoute ${other}, which is older and keeps them`).join('; '));
  } else if (shared.length) {
    cond('Conflict', true, 'PodsSharedWithOtherRoute', shared.map(([other, pods]) => `pods ${nameSome(pods)} are also selected by AIRoute ${other}; this AIRoute is older and keeps them`).join('; '));
  } else cond('Conflict', false, 'NoConflict', 'no pod is selected by another AIRoute');

  // Ready names the most fundamental cause: a broken spec before a lost pod before a push in flight.
  const byType = (t: ConditionType) => conditions.find((c) => c.type === t)!;
  const failing = [byType('Accepted'), byType('ResolvedRefs'), byType('Conflict'), byType('Synced')].find((c) =>
    c.type === 'Conflict' ? c.reason === 'PodsOwnedByOtherRoute' : c.status !== 'True',
  );
  if (failing) conditions.push({ type: 'Ready', status: 'False', reason: failing.reason, message: failing.message });
  else conditions.push({ type: 'Ready', status: 'True', reason: 'Ready', message: syncedMessage });

  const events = eventsBetween(status.conditions, conditions);

  return {
    ...(desired ? { desired } : {}),
    persistVersion,
    push,
    status: {
      observedGeneration: generation,
      configVersion: desired?.version ?? statusVersion,
      ...(goal ? { configHash: goal.hash } : {}),
      targetPods: n,
      syncedPods: synced.length,
      conditions,
    },
    events,
    secrets,
  };
}

/** Events for the step from one set of conditions to the next: a Warning for every rejection (a
 *  condition entering a failing state, or failing anew for another reason or message) and a
 *  Normal one when the route becomes Ready. A Synced that is merely in progress is no rejection. */
export function eventsBetween(before: readonly { type: string; status: string; reason: string; message: string }[] | undefined, after: readonly DesiredCondition[]): PlannedEvent[] {
  const events: PlannedEvent[] = [];
  const prev = new Map<string, { type: string; status: string; reason: string; message: string }>();
  // Stryker disable next-line ArrayDeclaration: a list holding one non-condition names no condition type, like the empty list
  for (const c of before ?? []) prev.set(c.type, c);
  const changed = (c: DesiredCondition) => {
    const b = prev.get(c.type);
    return !b || b.status !== c.status || b.reason !== c.reason || b.message !== c.message;
  };
  const rejection = (c: DesiredCondition) =>
    c.type === 'Accepted' || c.type === 'ResolvedRefs' ? c.status === 'False' : c.type === 'Synced' ? c.reason === 'Rejected' : c.type === 'Conflict' && c.status === 'True';
  for (const c of after) if (changed(c) && rejection(c)) events.push({ type: 'Warning', reason: c.reason, message: c.message });
  const ready = after.find((c) => c.type === 'Ready');
  if (ready?.status === 'True' && prev.get('Ready')?.status !== 'True') events.push({ type: 'Normal', reason: 'Ready', message: ready.message });
  return events;
}
