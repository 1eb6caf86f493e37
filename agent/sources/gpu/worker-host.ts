// The worker side of CallWorker: runs named ops synchronously, one at a time,
// and posts each result back. Ops throw OpError for failures the main side
// should see with a kind and a library return code.
import { parentPort } from 'node:worker_threads';
import { errorText } from '../../model/text.ts';

export class OpError extends Error {
  readonly kind: string;
  readonly code: number | null;
  constructor(message: string, kind: string, code: number | null = null) {
    super(message);
    this.kind = kind;
    this.code = code;
  }
}

export type Ops = Record<string, (args: never) => unknown>;

export function serveOps(ops: Ops): void {
  const port = parentPort;
  if (!port) throw new Error('serveOps must run in a worker thread');
  port.on('message', (m: { id: number; op: string; args: unknown }) => {
    const fn = ops[m.op] as ((args: unknown) => unknown) | undefined;
    try {
      if (!fn) throw new OpError(`unknown op ${m.op}`, 'internal');
      port.postMessage({ id: m.id, ok: true, value: fn(m.args) });
    } catch (e) {
      const err = e instanceof OpError ? e : null;
      port.postMessage({
        id: m.id,
        ok: false,
        error: {
          message: errorText(e),
          kind: err?.kind ?? 'exception',
          code: err?.code ?? null,
        },
      });
    }
  });
}

/** URL of a sibling module, whether running from .ts sources or compiled .js. */
export function siblingUrl(base: string, name: string): URL {
  const ext = base.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${ext}`, base);
}
