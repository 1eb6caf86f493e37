// The condition as the agent last decided it, with its transition time. Pure:
// the transition time moves only when the status flips, never on a new reason
// or message, and it survives restarts through the state file.
import type { NodeVerdict } from '../model/verdict.ts';
import type { ConditionRecord } from './state-file.ts';

export function nextCondition(prev: ConditionRecord | null, verdict: NodeVerdict, now: number): ConditionRecord {
  const flipped = prev === null || prev.status !== verdict.status;
  return {
    status: verdict.status,
    reason: verdict.reason,
    message: verdict.message,
    lastTransitionTime: flipped ? now : prev.lastTransitionTime,
  };
}

export function sameCondition(a: ConditionRecord | null, b: ConditionRecord): boolean {
  return a !== null && a.status === b.status && a.reason === b.reason && a.message === b.message && a.lastTransitionTime === b.lastTransitionTime;
}
