// The reporters as one reporter, so the composition root talks to one port:
// every call goes to each of them in order, a start or stop that fails does
// not hold up the others, and the latest write of any of them is the one shown.
import { errorText } from '../model/text.ts';
import type { Reporter, WriteRecord } from './types.ts';

export function reporterSet(reporters: readonly Reporter[]): Reporter {
  return {
    name: reporters.map((r) => r.name).join('+'),
    async start(hooks) {
      const started = await Promise.allSettled(reporters.map(async (r) => r.start(hooks)));
      const failed = started.flatMap((s, i) => (s.status === 'rejected' ? [`${reporters[i]?.name ?? '?'}: ${errorText(s.reason)}`] : []));
      if (failed.length > 0) throw new Error(failed.join('; '));
    },
    setCondition(condition) {
      for (const r of reporters) r.setCondition(condition);
    },
    notice(notice) {
      for (const r of reporters) r.notice(notice);
    },
    podNotice(notice, pod) {
      for (const r of reporters) r.podNotice(notice, pod);
    },
    async stop() {
      await Promise.allSettled(reporters.map(async (r) => r.stop()));
    },
    lastWrite() {
      let latest: WriteRecord | null = null;
      for (const r of reporters) {
        const w = r.lastWrite();
        if (w !== null && (latest === null || w.at > latest.at)) latest = w;
      }
      return latest;
    },
  };
}
