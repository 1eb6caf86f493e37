// D10: a read-only state directory; minor: temp files after a failed write.
import { mkdirSync } from 'node:fs';
import { waitFor } from '../../helpers/agent-process.ts';
import { findingOn, readOnlyStateDir, startLogFileAgent } from '../../helpers/logfile-agent.ts';
import { outcome, type Scenario } from '../scenario.ts';

export const scenarios: Scenario[] = [
  {
    name: 'state dir: read-only bind mount',
    ref: 'D10',
    expected: 'keeps watching; False on an Xid; says nothing persists',
    async run() {
      const agent = await startLogFileAgent([], { wrap: readOnlyStateDir, prepare: (p) => mkdirSync(p.stateDir, { mode: 0o700 }) });
      try {
        const start = Date.now();
        agent.xid(79);
        await waitFor('False', async () => ((await agent.a.state()).condition.status === 'False' ? true : undefined), 5000, 10);
        const toFalse = Date.now() - start;
        await findingOn(agent.a);
        const { value: st } = await waitFor('reported', async () => {
          const s = await agent.a.state();
          return s.persistence?.ok === false ? s : undefined;
        });
        // Events go out after the False write (the kube reporter's policy, dry run or not): wait for it.
        const event = await agent.a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason: string }).reason === 'GPUHealthStateNotPersisted', 3000).then(
          () => true,
          () => false,
        );
        const gauge = /^gpu_health_state_persisted 0$/m.test((await agent.a.get('/metrics')).body);
        return outcome(event && gauge, `False; persisted=${String(st.persistence?.ok)}; Event ${event ? 'posted' : 'missing'}; gauge ${gauge ? '0' : '?'}`, `Xid to False ${toFalse} ms`);
      } finally {
        await agent.dispose();
      }
    },
  },
];
