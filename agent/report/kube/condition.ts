// The node condition the agent owns, as the API server stores it, and the
// strategic merge patch that writes it. Pure: times are passed in.
// lastTransitionTime moves only when the status flips against what the server
// holds, so a new reason, a heartbeat or an agent restart never restarts
// Karpenter's repair clock.
import type { ConditionStatus, NodeVerdict } from '../../model/verdict.ts';

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

/** Same status, reason and message: nothing but a heartbeat to write. */
export function sameContent(current: NodeCondition | undefined, desired: NodeVerdict): boolean {
  return current !== undefined && current.status === desired.status && current.reason === desired.reason && current.message === desired.message;
}

/**
 * The condition to write now. `statusSince` is when the desired status took its
 * current value; it becomes the transition time only if the server holds a
 * different status (or none, or one without a transition time).
 */
export function conditionToWrite(type: string, desired: NodeVerdict, statusSince: number, current: NodeCondition | undefined, now: number): NodeCondition {
  const keep = current !== undefined && current.status === desired.status && current.lastTransitionTime !== '';
  return {
    type,
    status: desired.status,
    reason: desired.reason,
    message: desired.message,
    lastHeartbeatTime: rfc3339(now),
    lastTransitionTime: keep ? current.lastTransitionTime : rfc3339(Math.min(statusSince, now)),
  };
}

/** Conditions merge by `type` under a strategic merge patch: only ours is sent, the others stay as they are. */
export function conditionPatch(condition: NodeCondition): { status: { conditions: NodeCondition[] } } {
  return { status: { conditions: [condition] } };
}
