// Condition bookkeeping by the API conventions: each condition carries the generation it was
// computed from, and lastTransitionTime moves only when its status flips (a new reason or
// message alone is not a transition). Pure: the caller passes the time.
import type { Condition, ConditionType } from '../../api/v1alpha1/airoute.ts';

export interface DesiredCondition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

const MAX_MESSAGE = 1024;

export function mergeConditions(previous: readonly Condition[] | undefined, desired: readonly DesiredCondition[], generation: number, now: string): Condition[] {
  return desired.map((d) => {
    const old = previous?.find((c) => c.type === d.type);
    const message = d.message.length > MAX_MESSAGE ? d.message.slice(0, MAX_MESSAGE - 1) + '…' : d.message;
    return {
      type: d.type,
      status: d.status,
      observedGeneration: generation,
      lastTransitionTime: old && old.status === d.status ? old.lastTransitionTime : now,
      reason: d.reason,
      message,
    };
  });
}
