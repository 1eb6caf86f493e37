// The node condition the agent owns, as the API server stores it, and the
// strategic merge patch that writes it. Pure: times are passed in. The
// transition time is not decided here: it is the decision core's
// (runtime/core.ts), written as given.
import type { AdoptedCondition, ConditionRecord, ConditionStatus } from '../../model/verdict.ts';

export interface NodeCondition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastHeartbeatTime: string;
  lastTransitionTime: string;
}

export interface NodeLike {
  metadata?: { name?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string> };
  status?: { conditions?: Partial<NodeCondition>[]; capacity?: Record<string, string> };
}

/** RFC 3339 at whole seconds, as metav1.Time stores it. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function findCondition(node: NodeLike | undefined, type: string): NodeCondition | undefined {
  const found = node?.status?.conditions?.find((c) => c.type === type);
  if (found === undefined) return undefined;
  return {
    type,
    status: (found.status ?? 'Unknown') as ConditionStatus,
    reason: found.reason ?? '',
    message: found.message ?? '',
    lastHeartbeatTime: found.lastHeartbeatTime ?? '',
    lastTransitionTime: found.lastTransitionTime ?? '',
  };
}

/** The condition on the Node is the one decided, transition time included: nothing but a heartbeat to write. */
export function sameContent(current: NodeCondition | undefined, desired: ConditionRecord): boolean {
  return (
    current !== undefined &&
    current.status === desired.status &&
    current.reason === desired.reason &&
    current.message === desired.message &&
    current.lastTransitionTime === rfc3339(desired.lastTransitionTime)
  );
}

/** The condition to write now: the one decided (runtime/core.ts), with this heartbeat. */
export function conditionToWrite(type: string, desired: ConditionRecord, now: number): NodeCondition {
  return {
    type,
    status: desired.status,
    reason: desired.reason,
    message: desired.message,
    lastHeartbeatTime: rfc3339(now),
    lastTransitionTime: rfc3339(desired.lastTransitionTime),
  };
}

/** The condition as the core reads it (times in ms), when the Node holds a valid one. */
export function heldCondition(c: NodeCondition | undefined): AdoptedCondition | null {
  if (c === undefined) return null;
  const ltt = Date.parse(c.lastTransitionTime);
  if (!Number.isFinite(ltt) || (c.status !== 'True' && c.status !== 'False' && c.status !== 'Unknown')) return null;
  return { status: c.status, reason: c.reason, lastTransitionTime: ltt };
}

/** Conditions merge by `type` under a strategic merge patch: only ours is sent, the others stay as they are. */
export function conditionPatch(condition: NodeCondition): { status: { conditions: NodeCondition[] } } {
  return { status: { conditions: [condition] } };
}
