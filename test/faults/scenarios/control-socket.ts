// D11: nobody racing connect() on the control socket under umask 000, over several
// starts (against the old chmod-after-listen it won about two starts in three).
import { LOG_PCI } from '../../helpers/logfile-agent.ts';
import { startAgentRacedByNobody } from '../../helpers/nobody.ts';
import { outcome, type Scenario } from '../scenario.ts';

const STARTS = 3;

/** One start of the agent with nobody racing; whether nobody's clear was served, and the finding kept. */
async function oneStart(): Promise<{ served: boolean; held: boolean; tries: number }> {
  const { agent, race } = await startAgentRacedByNobody();
  try {
    agent.xid(79);
    const r = await race;
    const held = (await agent.a.state()).gpus.some((g) => g.pci === LOG_PCI && g.health === 'fatal');
    return { served: r.connected && /"ok":true/.test(r.reply ?? ''), held, tries: r.tries };
  } finally {
    await agent.dispose();
  }
}

export const scenarios: Scenario[] = [
  {
    name: 'control socket: nobody races connect() under umask 000',
    ref: 'D11',
    expected: `never served in ${STARTS} starts; findings kept`,
    async run() {
      const runs = [];
      for (let i = 0; i < STARTS; i++) runs.push(await oneStart());
      const served = runs.filter((r) => r.served).length;
      const lost = runs.filter((r) => !r.held).length;
      return outcome(served === 0 && lost === 0, `served in ${served} of ${STARTS} starts; finding lost in ${lost}`, `${Math.min(...runs.map((r) => r.tries))}+ connect() tries per start`);
    },
  },
];
