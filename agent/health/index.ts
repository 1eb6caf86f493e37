// The health state's contract (see README.md). Pure: no I/O, no clock reads;
// every function takes `now` and returns the next state with its notices.
import type { SourceStatus } from '../model/source-status.ts';
import type { Notice } from '../model/verdict.ts';
import type { RuleTable } from '../rules/types.ts';
import { findGpu } from './identity.ts';
import { expire, operatorClear, reclassify } from './lifecycle.ts';
import { emptyState } from './snapshot.ts';
import { applySource } from './sources.ts';
import type { HealthLimits, HealthState } from './types.ts';

export type { Finding, GpuHealth, HealthLimits, HealthState } from './types.ts';
export { DEFAULT_LIMITS } from './types.ts';
export { observe, SAME_OCCURRENCE_MS } from './observe.ts';
export type { ObserveResult } from './observe.ts';
export { fromSnapshot, toSnapshot } from './snapshot.ts';
export type { Restored } from './snapshot.ts';
export { isReady, verdictOf, MESSAGE_MAX, READY_REASON, UNOBSERVABLE_REASON } from './verdict.ts';
export { describeHealth, findingView } from './view.ts';
export type { FindingView, GpuView, HealthView } from './view.ts';
export { learnDevices } from './devices.ts';
export type { DeviceOrigin } from './types.ts';

export interface Step {
  state: HealthState;
  notices: Notice[];
}

export function emptyHealth(bootId: string, limits?: HealthLimits): HealthState {
  return emptyState(bootId, limits);
}

export function updateSource(state: HealthState, status: SourceStatus, now: number): Step {
  const notices: Notice[] = [];
  applySource(state, status, now, notices);
  return { state, notices };
}

/** Time passes: quiet windows clear, escalation windows age; a new rule table re-classifies. */
export function tick(state: HealthState, rules: RuleTable, now: number): Step {
  const notices: Notice[] = [];
  if (state.table !== rules) reclassify(state, rules, now, notices);
  expire(state, now, notices);
  return { state, notices };
}

/**
 * Operator clear of every finding whose clearOn has `operator`: on all GPUs, or on the
 * one `gpu` names (PCI address, UUID or index). `matched` is false when no GPU has that name.
 */
export function clearFindings(state: HealthState, target: { gpu?: string }, now: number): Step & { cleared: number; matched: boolean } {
  const notices: Notice[] = [];
  const matched = target.gpu === undefined || target.gpu === '' || findGpu(state, target.gpu) !== null;
  const cleared = operatorClear(state, target.gpu, now, notices);
  return { state, notices, cleared, matched };
}
