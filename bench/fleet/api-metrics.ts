// What the API server and etcd say about themselves (their Prometheus
// /metrics): requests by verb and resource, the request-latency histogram, and
// etcd's database size. A phase's figures are the difference of two scrapes.
import type { KubeClient } from '../../agent/report/kube/client.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition -> samples (no HELP/TYPE, no timestamps). */
export function parseProm(text: string, keep: (name: string) => boolean): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    const name = brace === -1 ? line.slice(0, line.indexOf(' ')) : line.slice(0, brace);
    if (!keep(name)) continue;
    const labels: Record<string, string> = {};
    if (brace !== -1) {
      const body = line.slice(brace + 1, line.lastIndexOf('}'));
      for (const m of body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1] as string] = m[2] as string;
    }
    out.push({ name, labels, value: Number(line.slice(space + 1)) });
  }
  return out;
}

/** The slice of the API server's metrics the bench reads: counters keyed by verb, histogram buckets by le. */
export interface ApiScrape {
  at: number;
  /** `VERB resource[/subresource]` -> requests so far. */
  requests: Map<string, number>;
  /** le (seconds) -> requests so far, every verb but WATCH/CONNECT. */
  buckets: Map<number, number>;
  /** `VERB resource[/subresource]` -> le -> count. */
  bucketsBy: Map<string, Map<number, number>>;
}

const LONG_RUNNING = new Set(['WATCH', 'CONNECT', 'WATCHLIST']);
const key = (l: Record<string, string>): string => `${l.verb} ${l.resource}${l.subresource ? `/${l.subresource}` : ''}`;

export async function scrapeApi(admin: KubeClient): Promise<ApiScrape> {
  const res = await admin.request<string>('GET', '/metrics', { timeoutMs: 30_000 });
  const text = typeof res.body === 'string' ? res.body : String(res.body);
  const samples = parseProm(text, (n) => n === 'apiserver_request_total' || n === 'apiserver_request_duration_seconds_bucket');
  const requests = new Map<string, number>();
  const buckets = new Map<number, number>();
  const bucketsBy = new Map<string, Map<number, number>>();
  for (const s of samples) {
    if (s.name === 'apiserver_request_total') {
      requests.set(key(s.labels), (requests.get(key(s.labels)) ?? 0) + s.value);
    } else if (!LONG_RUNNING.has(s.labels.verb ?? '')) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + s.value);
      const by = bucketsBy.get(key(s.labels)) ?? new Map<number, number>();
      by.set(le, (by.get(le) ?? 0) + s.value);
      bucketsBy.set(key(s.labels), by);
    }
  }
  return { at: Date.now(), requests, buckets, bucketsBy };
}

/** Quantile q of a cumulative histogram (le -> count), linear within the bucket, as histogram_quantile does; ms. */
export function quantileMs(cum: Map<number, number>, q: number): number | null {
  const les = [...cum.keys()].sort((a, b) => a - b);
  const total = cum.get(Infinity) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const le of les) {
    const c = cum.get(le) ?? 0;
    if (c >= rank) {
      if (le === Infinity) return prevLe * 1000;
      const inBucket = c - prevCount;
      const frac = inBucket <= 0 ? 0 : (rank - prevCount) / inBucket;
      return +((prevLe + (le - prevLe) * frac) * 1000).toFixed(1);
    }
    prevLe = le;
    prevCount = c;
  }
  return null;
}

function diff(a: Map<number, number>, b: Map<number, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [le, v] of b) out.set(le, v - (a.get(le) ?? 0));
  return out;
}

export interface PhaseApi {
  seconds: number;
  /** Requests per second by `VERB resource`, those with any traffic. */
  perSecond: Record<string, number>;
  p50Ms: number | null;
  p99Ms: number | null;
  /** p99 of node status writes alone. */
  statusPatchP99Ms: number | null;
}

export function phaseApi(a: ApiScrape, b: ApiScrape): PhaseApi {
  const seconds = (b.at - a.at) / 1000;
  const perSecond: Record<string, number> = {};
  for (const [k, v] of b.requests) {
    const d = v - (a.requests.get(k) ?? 0);
    if (d > 0 && !k.startsWith('WATCH') && !k.includes('metrics')) perSecond[k] = +(d / seconds).toFixed(2);
  }
  const all = diff(a.buckets, b.buckets);
  const patch = diff(a.bucketsBy.get('PATCH nodes/status') ?? new Map(), b.bucketsBy.get('PATCH nodes/status') ?? new Map());
  return { seconds: +seconds.toFixed(1), perSecond, p50Ms: quantileMs(all, 0.5), p99Ms: quantileMs(all, 0.99), statusPatchP99Ms: quantileMs(patch, 0.99) };
}

/** etcd's own database size (bytes on disk, and in use). */
export async function etcdSize(etcdUrl: string): Promise<{ totalBytes: number; inUseBytes: number; keys: number }> {
  const text = await (await fetch(`${etcdUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const s = parseProm(text, (n) => n === 'etcd_mvcc_db_total_size_in_bytes' || n === 'etcd_mvcc_db_total_size_in_use_in_bytes' || n === 'etcd_debugging_mvcc_keys_total');
  const v = (n: string): number => s.find((x) => x.name === n)?.value ?? NaN;
  return { totalBytes: v('etcd_mvcc_db_total_size_in_bytes'), inUseBytes: v('etcd_mvcc_db_total_size_in_use_in_bytes'), keys: v('etcd_debugging_mvcc_keys_total') };
}
