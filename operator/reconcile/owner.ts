// Which AIRoute a pod belongs to when several select it: the oldest (creationTimestamp, then
// name). Shared by plan() (whom to push to) and the webhook (whose config snapshot and Secrets to
// mount into a new pod), so both always agree. Pure.
import type { AIRoute, LabelSelector } from '../../api/v1alpha1/airoute.ts';
import { selects } from './selector.ts';

export interface RouteClaim {
  name: string;
  /** RFC 3339; compared as text, which orders RFC 3339 UTC times correctly. */
  createdAt: string;
  podSelector: LabelSelector;
}

/** Older first: creationTimestamp, then name. */
export const olderThan = (a: { createdAt: string; name: string }, b: { createdAt: string; name: string }) =>
  a.createdAt < b.createdAt || (a.createdAt === b.createdAt && a.name < b.name);

export const createdAt = (r: AIRoute) => {
  const t = r.metadata.creationTimestamp;
  return t instanceof Date ? t.toISOString().replace(/\.\d{3}Z$/, 'Z') : (t ?? '');
};

export const claimOf = (r: AIRoute): RouteClaim => ({ name: r.metadata.name ?? '', createdAt: createdAt(r), podSelector: r.spec?.podSelector ?? {} });

/** The route that owns a pod with these labels, if any selects it. */
export function ownerOf<T extends RouteClaim>(labels: Record<string, string> | undefined, routes: readonly T[]): T | undefined {
  let owner: T | undefined;
  for (const r of routes) if (selects(r.podSelector, labels) && (!owner || olderThan(r, owner))) owner = r;
  return owner;
}
