// Reasoning knobs across formats. OpenAI asks for an effort (`reasoning_effort`), Anthropic and
// Gemini 2.5 for a token budget (`thinking.budget_tokens`, `thinkingBudget`); a translation
// converts one into the other with this table, so both directions agree.
import type { ReasoningEffort } from '../chat/types.ts';

/** The budget an effort stands for where a backend wants tokens. Anthropic's minimum budget is 1024. */
export const EFFORT_BUDGET: Readonly<Record<Exclude<ReasoningEffort, 'none'>, number>> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
  xhigh: 32768,
  max: 65536,
};

/**
 * The effort a budget stands for where a backend wants an effort. Only low, medium and high come
 * out: every OpenAI reasoning model accepts them, while `minimal`, `xhigh` and `max` exist on some
 * models only.
 */
export function effortForBudget(budget: number): ReasoningEffort {
  if (budget < EFFORT_BUDGET.medium / 2) return 'low';
  if (budget < EFFORT_BUDGET.high) return 'medium';
  return 'high';
}

export function budgetForEffort(effort: Exclude<ReasoningEffort, 'none'>): number {
  return EFFORT_BUDGET[effort];
}

const EFFORTS: ReadonlySet<string> = new Set(['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max']);

export function isEffort(v: unknown): v is ReasoningEffort {
  return typeof v === 'string' && EFFORTS.has(v);
}
