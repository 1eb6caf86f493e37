// Client-side count of the simulated agents' API calls, per second and per
// kind, by wrapping KubeClient.request in this bench process only: the API
// server's own metrics give rates over a scrape interval, this gives the
// one-second peaks (a thousand heartbeats landing in the same second).
import { KubeClient, type KubeResponse, type RequestOptions } from '../../agent/report/kube/client.ts';

const CONDITION = 'AcceleratedHardwareReady';

export type CallKind = 'status' | 'get-node' | 'event-create' | 'event-patch' | 'other';

function kindOf(method: string, path: string): CallKind {
  if (path.endsWith('/status') && method === 'PATCH') return 'status';
  if (path.includes('/events')) return method === 'POST' ? 'event-create' : 'event-patch';
  if (method === 'GET' && path.startsWith('/api/v1/nodes/')) return 'get-node';
  return 'other';
}

export interface RequestLog {
  /** Second since `t0` -> kind -> calls started in it. */
  perSecond: Map<number, Map<CallKind, number>>;
  failures: number;
  /** Latencies (ms) of status writes, client side. */
  statusMs: number[];
  /** Node name -> when the API server first acknowledged a status write carrying `False`. */
  falseAckAt: Map<string, number>;
  t0: number;
}

/** Starts counting every KubeClient call in this process (the admin client's are told apart by `skip`). */
export function logRequests(skip: (c: KubeClient) => boolean): RequestLog {
  const log: RequestLog = { perSecond: new Map(), failures: 0, statusMs: [], falseAckAt: new Map(), t0: Date.now() };
  const original = KubeClient.prototype.request;
  KubeClient.prototype.request = async function <T>(this: KubeClient, method: string, path: string, opts?: RequestOptions): Promise<KubeResponse<T>> {
    if (skip(this)) return original.call(this, method, path, opts) as Promise<KubeResponse<T>>;
    const start = Date.now();
    const sec = Math.floor((start - log.t0) / 1000);
    const kind = kindOf(method, path);
    const row = log.perSecond.get(sec) ?? new Map<CallKind, number>();
    row.set(kind, (row.get(kind) ?? 0) + 1);
    log.perSecond.set(sec, row);
    try {
      const r = (await original.call(this, method, path, opts)) as KubeResponse<T>;
      if (kind === 'status') {
        log.statusMs.push(Date.now() - start);
        const node = r.body as { metadata?: { name?: string }; status?: { conditions?: Array<{ type: string; status: string }> } } | undefined;
        const name = node?.metadata?.name;
        if (name !== undefined && !log.falseAckAt.has(name) && node?.status?.conditions?.some((c) => c.type === CONDITION && c.status === 'False')) log.falseAckAt.set(name, Date.now());
      }
      return r;
    } catch (err) {
      log.failures++;
      throw err;
    }
  };
  return log;
}

/** Over seconds [from, to): calls of `kind` per second, the mean and the busiest second. */
export function peak(log: RequestLog, kind: CallKind, fromSec: number, toSec: number): { mean: number; max: number; atSec: number } {
  let sum = 0;
  let max = 0;
  let atSec = fromSec;
  for (let s = fromSec; s < toSec; s++) {
    const n = log.perSecond.get(s)?.get(kind) ?? 0;
    sum += n;
    if (n > max) {
      max = n;
      atSec = s;
    }
  }
  return { mean: +(sum / Math.max(1, toSec - fromSec)).toFixed(2), max, atSec };
}
