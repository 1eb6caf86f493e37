// A reporter that keeps what it is told, in order, for tests of what sits in
// front of the reporters (the pod-impact decorator, the runtime's ports).
import type { PodRef } from '../../agent/model/pod-ref.ts';
import type { ConditionRecord, Notice } from '../../agent/model/verdict.ts';
import type { Reporter, ReporterHooks, WriteRecord } from '../../agent/runtime/types.ts';

export type Told = { kind: 'condition'; condition: ConditionRecord } | { kind: 'notice'; notice: Notice } | { kind: 'pod-notice'; notice: Notice; pod: PodRef };

export interface MemoryReporter extends Reporter {
  told: Told[];
  /** The hooks it was started with, to play the API server's part. */
  hooks: ReporterHooks | null;
  stopped: boolean;
}

export function memoryReporter(name = 'memory'): MemoryReporter {
  const r: MemoryReporter = {
    name,
    told: [],
    hooks: null,
    stopped: false,
    async start(hooks) {
      r.hooks = hooks;
    },
    setCondition: (condition) => void r.told.push({ kind: 'condition', condition }),
    notice: (notice) => void r.told.push({ kind: 'notice', notice }),
    podNotice: (notice, pod) => void r.told.push({ kind: 'pod-notice', notice, pod }),
    async stop() {
      r.stopped = true;
    },
    lastWrite: (): WriteRecord | null => null,
  };
  return r;
}
