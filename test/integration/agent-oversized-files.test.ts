// The real agent given files that are valid and far too large: a ConfigMap-legal
// 1 MB rule file needed 623 MiB to parse and OOM-killed the agent at every start
// under the chart's 192 MiB limit; a tampered state file did the same. Now each
// is refused unread, the refusal is loud (log, Event, metric), and the agent keeps
// its last good table, or starts clean.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { paddedRuleFile, RULES_V1, tamperedStateFile } from '../helpers/big-files.ts';
import { configMap } from '../helpers/configmap.ts';
import { startLogFileAgent, type LogFileAgent } from '../helpers/logfile-agent.ts';
import { peakRssMiB } from '../helpers/proc.ts';

const agents: LogFileAgent[] = [];
const disposers: Array<() => void> = [];
after(async () => {
  for (const a of agents) await a.dispose();
  for (const d of disposers) d();
});

async function agentWithRules(rules: string | ((dir: string) => string)): Promise<AgentProcess> {
  const agent = await startLogFileAgent((p) => ['--rules', typeof rules === 'string' ? rules : rules(p.dir)]);
  agents.push(agent);
  return agent.a;
}

const entry43 = async (a: AgentProcess): Promise<string | undefined> =>
  (JSON.parse((await a.get('/debug/rules')).body) as { entries: Array<{ family: string; code: number; severity: string }> }).entries.find((e) => e.family === 'xid' && e.code === 43)?.severity;

test('an oversized rule file at start is refused unread with a clear error; the agent runs on the defaults', async () => {
  const a = await agentWithRules((dir) => {
    const big = join(dir, 'overrides.yaml');
    paddedRuleFile(big, 1_000_000, 'fatal');
    return big;
  });
  const refused = await a.waitForLine((l) => l.msg === 'rule file refused; the last good table stays in force');
  assert.match(String(refused.error), /overrides\.yaml: \d+ bytes, over the 256 KiB limit for a rule file/);
  await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason: string }).reason === 'GPUHealthRulesRefused');
  assert.match((await a.get('/metrics')).body, /^gpu_health_rule_reloads_total\{result="refused"\} 1$/m);
  assert.equal(await entry43(a), 'warning', 'the defaults are in force');
  const peak = peakRssMiB(a.proc.pid as number);
  assert.ok(peak < 150, `peak RSS ${peak.toFixed(0)} MiB (parsing the file would take over 600 MiB)`);
});

test('a hot reload to an oversized or too dense rule file is refused, the last good table stays, and memory does not move', async () => {
  const cm = configMap(`${RULES_V1}xid:\n  43: {severity: info}\n`);
  disposers.push(() => cm.dispose());
  const a = await agentWithRules(cm.file);
  assert.equal(await entry43(a), 'info');
  const pid = a.proc.pid as number;
  const before = peakRssMiB(pid);

  paddedRuleFile(cm.nextPath(), 1_000_000, 'fatal');
  cm.swap(null);
  await waitFor('refused', async () => (/^gpu_health_rule_reloads_total\{result="refused"\} 1$/m.test((await a.get('/metrics')).body) ? true : undefined), 10_000);
  paddedRuleFile(cm.nextPath(), 200_000, 'fatal');
  cm.swap(null);
  await waitFor('refused again', async () => (/^gpu_health_rule_reloads_total\{result="refused"\} 2$/m.test((await a.get('/metrics')).body) ? true : undefined), 10_000);
  const errors = a.lines.filter((l) => l.msg === 'rule file refused; the last good table stays in force').map((l) => String(l.error));
  assert.match(errors[0] ?? '', /over the 256 KiB limit for a rule file/);
  assert.match(errors[1] ?? '', /over 25000 YAML tokens/);
  assert.equal(await entry43(a), 'info', 'last good table kept');
  const grew = peakRssMiB(pid) - before;
  assert.ok(grew < 20, `peak RSS grew ${grew.toFixed(0)} MiB`);

  cm.swap(`${RULES_V1}xid:\n  43: {severity: ignore}\n`);
  await waitFor('the next good file applies', async () => ((await entry43(a)) === 'ignore' ? true : undefined), 10_000);
});

test('a state file over the bound is set aside unread; the agent starts clean and replays, at no cost in memory', async () => {
  const agent = await startLogFileAgent([], {
    prepare: (p) => {
      mkdirSync(p.stateDir, { mode: 0o700 });
      tamperedStateFile(join(p.stateDir, 'state.json'), 'any-boot', 24 * 1024 * 1024);
    },
  });
  agents.push(agent);
  const { a } = agent;
  const warning = a.lines.find((l) => typeof l.msg === 'string' && l.msg.includes('state.json'));
  assert.match(String(warning?.msg), /state\.json: \d+ bytes, over the 16 MiB limit for the state file; not read; kept as state\.json\.corrupt, starting clean/);
  assert.ok(existsSync(join(agent.stateDir, 'state.json.corrupt')));
  assert.equal((await a.state()).gpus.length, 0);
  const peak = peakRssMiB(a.proc.pid as number);
  assert.ok(peak < 150, `peak RSS ${peak.toFixed(0)} MiB`);
});
