// The real agent loading a rule file that makes unknown and application-caused
// Xids fatal: it used to say only "rule file reloaded, overridden: 5". Now the
// risk is loud: a warning, a GPUHealthRulesRisky Event, /debug/rules, and the
// gpu_health_rules_risky gauge (an alert keys on that name), at start and on reload.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/agent-process.ts';
import { startLogFileAgent, type LogFileAgent } from '../helpers/logfile-agent.ts';
import { ALL_FATAL } from '../helpers/rule-files.ts';

const agents: LogFileAgent[] = [];
const dirs: string[] = [];
after(async () => {
  for (const a of agents) await a.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const gauge = (metrics: string): number => Number(/^gpu_health_rules_risky (\d+)$/m.exec(metrics)?.[1] ?? 'NaN');

interface RulesView {
  risky: Array<{ key: string; why: string }>;
  entries: Array<{ family: string; code: number | string; risky?: string }>;
}

test('a rule file making unknown and application-caused Xids fatal is accepted but said loudly, at start and on reload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gha-risky-'));
  dirs.push(dir);
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, ALL_FATAL);
  const agent = await startLogFileAgent(['--rules', rules]);
  agents.push(agent);
  const { a } = agent;

  const warning = await a.waitForLine((l) => l.level === 40 && String(l.msg).startsWith('rule table makes application-caused or unknown codes fatal'));
  assert.equal((warning.risky as unknown[]).length, 5);
  const event = await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason: string }).reason === 'GPUHealthRulesRisky');
  assert.match((event.event as { note: string }).note, /every xid code the table does not list is fatal on one occurrence/);
  assert.equal(gauge((await a.get('/metrics')).body), 5);
  const view = JSON.parse((await a.get('/debug/rules')).body) as RulesView;
  assert.deepEqual(view.risky.map((r) => r.key).sort(), ['unknown.xid', 'xid:13', 'xid:31', 'xid:43', 'xid:45']);
  assert.match(view.entries.find((e) => e.family === 'xid' && e.code === 43)?.risky ?? '', /needs no action/);
  assert.equal(view.entries.find((e) => e.family === 'xid' && e.code === 79)?.risky, undefined);

  // Back to a safe file: the gauge follows; then a risky reload warns again.
  writeFileSync(rules, 'apiVersion: gpu-health-agent/v1\nxid:\n  "109": {severity: fatal}\n');
  await waitFor('gauge back to 0', async () => (gauge((await a.get('/metrics')).body) === 0 ? true : undefined), 10_000);
  writeFileSync(rules, 'apiVersion: gpu-health-agent/v1\nxid:\n  "43": {severity: fatal}\n');
  await waitFor('gauge 1', async () => (gauge((await a.get('/metrics')).body) === 1 ? true : undefined), 10_000);
  const warnings = a.lines.filter((l) => String(l.msg).startsWith('rule table makes application-caused'));
  assert.equal(warnings.length, 2, 'warned at start and on the risky reload, not on the safe one');
});
