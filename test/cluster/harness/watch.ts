// A watch on one Node through the real API (newline-delimited JSON over a
// long-lived GET), so tests observe the condition the way Karpenter does:
// every change as it lands, with the time it arrived.
import https from 'node:https';
import type { ClientRequest } from 'node:http';
import { kubeconfigConnection } from '../../../agent/report/kube/connection.ts';
import type { NodeObject } from './fixtures.ts';

export interface Seen {
  type: string;
  node: NodeObject;
  /** Date.now() when the event arrived. */
  at: number;
}

export interface NodeWatch {
  seen: Seen[];
  /** Resolves with the first event (already seen or future) whose node matches. */
  until(match: (node: NodeObject) => boolean, timeoutMs: number): Promise<Seen>;
  close(): void;
}

/** A watch through the real API (newline-delimited JSON over a long-lived GET) as the kubeconfig's user; resolves once it answered 200. */
export async function openWatch(
  kubeconfig: string,
  path: string,
  onEvent: (ev: { type: string; object: NodeObject }) => void,
  on: { error?: (err: Error) => void; end?: () => void } = {},
): Promise<ClientRequest> {
  const conn = await kubeconfigConnection(kubeconfig);
  const url = new URL(path, conn.server);
  const req = https.get(url, { ...(conn.ca ? { ca: conn.ca } : {}), ...(conn.clientCert ? { cert: conn.clientCert } : {}), ...(conn.clientKey ? { key: conn.clientKey } : {}) }, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    if (on.end !== undefined) res.on('end', on.end);
    res.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() === '') continue;
        onEvent(JSON.parse(line) as { type: string; object: NodeObject });
      }
    });
  });
  if (on.error !== undefined) req.on('error', on.error);
  await new Promise<void>((res, rej) => {
    req.once('response', (r) => (r.statusCode === 200 ? res() : rej(new Error(`watch: HTTP ${r.statusCode}`))));
    req.once('error', rej);
  });
  return req;
}

export async function watchNode(kubeconfig: string, name: string, resourceVersion: string): Promise<NodeWatch> {
  const seen: Seen[] = [];
  const waiters = new Set<() => void>();
  let failure: Error | undefined;
  const req = await openWatch(
    kubeconfig,
    `/api/v1/nodes?watch=true&allowWatchBookmarks=false&fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}&resourceVersion=${resourceVersion}`,
    (ev) => {
      seen.push({ type: ev.type, node: ev.object, at: Date.now() });
      for (const w of waiters) w();
    },
    {
      error: (err) => {
        failure = err;
        for (const w of waiters) w();
      },
    },
  );

  return {
    seen,
    until(match, timeoutMs) {
      return new Promise((res, rej) => {
        let i = 0;
        const check = (): void => {
          for (; i < seen.length; i++) {
            const s = seen[i]!;
            if (match(s.node)) {
              done();
              res(s);
              return;
            }
          }
          if (failure !== undefined) {
            done();
            rej(failure);
          }
        };
        const timer = setTimeout(() => {
          done();
          rej(new Error(`watch on node ${name}: no match within ${timeoutMs} ms (${seen.length} events seen)`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close() {
      req.destroy();
    },
  };
}
