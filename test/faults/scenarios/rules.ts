// D12: a rule file making unknown and application-caused Xids fatal.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLogFileAgent } from '../../helpers/logfile-agent.ts';
import { ALL_FATAL } from '../../helpers/rule-files.ts';
import { outcome, type Scenario } from '../scenario.ts';

export const scenarios: Scenario[] = [
  {
    name: 'rules: allfatal.yaml (unknown.xid, 13, 31, 43, 45 fatal)',
    ref: 'D12',
    expected: 'loaded, with a warning, an Event and the risky gauge',
    async run() {
      const agent = await startLogFileAgent((p) => {
        const rules = join(p.dir, 'allfatal.yaml');
        writeFileSync(rules, ALL_FATAL);
        return ['--rules', rules];
      });
      try {
        const event = await agent.a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason: string }).reason === 'GPUHealthRulesRisky', 3000).then(
          () => true,
          () => false,
        );
        const warned = agent.a.lines.some((l) => l.level === 40 && String(l.msg).startsWith('rule table makes application-caused'));
        const gauge = Number(/^gpu_health_rules_risky (\d+)$/m.exec((await agent.a.get('/metrics')).body)?.[1] ?? 'NaN');
        return outcome(warned && event && gauge === 5, `warning ${warned ? 'logged' : 'missing'}; Event ${event ? 'posted' : 'missing'}`, `gpu_health_rules_risky ${gauge}`);
      } finally {
        await agent.dispose();
      }
    },
  },
];
