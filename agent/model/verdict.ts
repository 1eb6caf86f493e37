// What the agent says about the node, for reporters. Reporters read these and
// nothing else; they never look at sources or rules.
//
// The condition has one shape per stage, and one of them is *the* condition:
// - NodeVerdict: what health concludes now (status, reason, message; no time);
// - ConditionRecord: THE condition, decided by runtime/core.ts from the verdict,
//   transition time included; persisted in the state file and handed to every
//   reporter as it is;
// - AdoptedCondition: the condition as the Node holds it, read back, for the core
//   to decide with (NodeFacts);
// - NodeCondition (report/kube/condition.ts): the API server's wire form, RFC 3339
//   times and the heartbeat; DebugCondition (runtime/inspect/state-types.ts): the
//   /debug/state view.

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** The desired `AcceleratedHardwareReady` condition, without timestamps. */
export interface NodeVerdict {
  status: ConditionStatus;
  /** `NvidiaGPUIsReady`, `NvidiaXID79Error`, `GPUHealthUnobservable`, ... */
  reason: string;
  /** Bounded (<= 1024 chars), lists the other findings and sources that are down. */
  message: string;
}

/** The condition as the agent decided it (runtime/core.ts): the one reporters write, persisted across restarts. */
export interface ConditionRecord extends NodeVerdict {
  /** ms since the epoch, whole seconds; moves only when the status flips on the Node (or a new Node object). */
  lastTransitionTime: number;
}

/** The condition as the API server holds it for this Node. */
export interface AdoptedCondition {
  status: ConditionStatus;
  reason: string;
  /** ms since the epoch. */
  lastTransitionTime: number;
}

/**
 * What the API server says about this Node, as the kube reporter sees it (its
 * read at start, its watch, the answers to its writes). `first-read`: the first
 * look at the Node, whose condition the core may adopt; `renewed`: a new Node
 * object under the name (deleted and created again), whose condition starts a
 * new transition time; `update`: anything else worth knowing (the GPU count).
 */
export interface NodeFacts {
  seen: 'first-read' | 'renewed' | 'update';
  /** The owned condition on the Node, when it has a valid one. */
  condition: AdoptedCondition | null;
  /** Physical GPUs the Node advertises (`nvidia.com/gpu` capacity); null when unknown or shared. */
  gpus: number | null;
}

/**
 * Something a person should hear about once: a new or repeated finding, a source
 * going down, a rule file refused. Reporters turn these into Events (aggregated
 * by `key` into a series) and log lines.
 */
export interface Notice {
  type: 'Normal' | 'Warning';
  /** Event reason: the finding's reason, or a plumbing reason such as `GPUHealthSourceDown`. */
  reason: string;
  /** Event note: GPU index, PCI, UUID, code, pid/process, action. <= 1024 chars. */
  note: string;
  /** Repeats with the same key are one Event series. */
  key: string;
  /**
   * The same finding on any GPU of the node (its key without the GPU). Notices
   * that share it and start within a minute of each other may be one Node Event
   * series: an Xid storm over every GPU is one Event, not one per GPU.
   */
  fold?: string;
  /** ms since epoch. */
  at: number;
  drill: boolean;
  /** GPU UUIDs the notice concerns, so the pod-impact lookup can name pods. */
  gpuUuids: string[];
}
