// D6: rule files and a state file far too large, at start and on hot reload.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../helpers/agent-process.ts';
import { paddedRuleFile, RULES_V1, tamperedStateFile } from '../../helpers/big-files.ts';
import { configMap } from '../../helpers/configmap.ts';
import { startLogFileAgent } from '../../helpers/logfile-agent.ts';
import { peakRssMiB } from '../../helpers/proc.ts';
import { mib, outcome, type Scenario } from '../scenario.ts';

const REFUSED = 'rule file refused; the last good table stays in force';
const refusals = (metrics: string): number => Number(/^gpu_health_rule_reloads_total\{result="refused"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);

export const scenarios: Scenario[] = [
  {
    name: 'rules: 1 MB rule file at start',
    ref: 'D6',
    expected: 'refused unread; defaults in force',
    async run() {
      const agent = await startLogFileAgent((p) => {
        const rules = join(p.dir, 'overrides.yaml');
        paddedRuleFile(rules, 1_000_000, 'fatal');
        return ['--rules', rules];
      });
      try {
        const line = agent.a.lines.find((l) => l.msg === REFUSED);
        const origin = (JSON.parse((await agent.a.get('/debug/rules')).body) as { origin: string }).origin;
        const ok = /over the 256 KiB limit/.test(String(line?.error)) && origin === 'defaults';
        return outcome(ok, `${line === undefined ? 'not refused' : 'refused (size)'}; table ${origin}`, `peak RSS ${mib(peakRssMiB(agent.a.proc.pid as number))}`);
      } finally {
        await agent.dispose();
      }
    },
  },
  {
    name: 'rules: hot reload to 1 MB, then a dense 200 KB file',
    ref: 'D6',
    expected: 'both refused; last good table kept',
    async run() {
      const cm = configMap(`${RULES_V1}xid:\n  43: {severity: info}\n`);
      const agent = await startLogFileAgent(['--rules', cm.file]);
      try {
        const pid = agent.a.proc.pid as number;
        const before = peakRssMiB(pid);
        const start = Date.now();
        paddedRuleFile(cm.nextPath(), 1_000_000, 'fatal');
        cm.swap(null);
        await waitFor('refused', async () => (refusals((await agent.a.get('/metrics')).body) === 1 ? true : undefined), 5000);
        const seenMs = Date.now() - start;
        paddedRuleFile(cm.nextPath(), 200_000, 'fatal');
        cm.swap(null);
        await waitFor('refused again', async () => (refusals((await agent.a.get('/metrics')).body) === 2 ? true : undefined), 5000);
        const rules = JSON.parse((await agent.a.get('/debug/rules')).body) as { entries: Array<{ family: string; code: number; severity: string }> };
        const kept = rules.entries.find((e) => e.family === 'xid' && e.code === 43)?.severity === 'info';
        return outcome(kept, `2 refused; ${kept ? 'last good table kept' : 'table changed'}`, `refused ${seenMs} ms after the swap, peak RSS +${mib(peakRssMiB(pid) - before)}`);
      } finally {
        await agent.dispose();
        cm.dispose();
      }
    },
  },
  {
    name: 'state: tampered 24 MB state file',
    ref: 'minor (D6)',
    expected: 'set aside unread; clean start',
    async run() {
      const agent = await startLogFileAgent([], {
        prepare: (p) => {
          mkdirSync(p.stateDir, { mode: 0o700 });
          tamperedStateFile(join(p.stateDir, 'state.json'), 'any', 24 * 1024 * 1024);
        },
      });
      try {
        const kept = existsSync(join(agent.stateDir, 'state.json.corrupt'));
        const gpus = (await agent.a.state()).gpus.length;
        return outcome(kept && gpus === 0, `${kept ? 'set aside as state.json.corrupt' : 'loaded'}; ${gpus} GPUs`, `peak RSS ${mib(peakRssMiB(agent.a.proc.pid as number))}`);
      } finally {
        await agent.dispose();
      }
    },
  },
];
