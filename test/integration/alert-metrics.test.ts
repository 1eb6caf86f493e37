// The chart's alerts and their promtool unit tests use only metric names and
// labels the real agent's /metrics produces (scraped here from the agent on the
// real /dev/kmsg, with a rule file it refuses), plus the target labels
// Prometheus adds. A disabled source has no source_up series, so "source down"
// never fires for the GPU backend a node does not use.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratch, startAgentProcess, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { exposition, metricsInExpr, renderPrometheusRule, ruleFile, seriesInAlertTests, TARGET_LABELS } from '../helpers/prometheus.ts';

/** Series Prometheus makes itself, not the agent. */
const PROMETHEUS_MADE = new Set(['up']);

// ---------------------------------------------------------------------------------------------
// PENDING METRICS: used by the alerts, added by other branches that are not merged yet.
// Once a scrape has them, their labels are checked like every other metric's; until then they
// are only reported. Remove each entry when its branch is merged (then the scrape must have it).
//   (none pending)
// ---------------------------------------------------------------------------------------------
const PENDING: Record<string, string[]> = {};

const dirs: string[] = [];
const agents: AgentProcess[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('every metric name and label the alerts and their unit tests use is in the real agent\'s /metrics', async (t) => {
  const s = scratch();
  dirs.push(s.dir);
  const rules = join(s.dir, 'overrides.yaml');
  writeFileSync(rules, 'apiVersion: gpu-health-agent/v1\nxid:\n  "43": {severity: warning}\n');
  const a = await startAgentProcess(['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', '--rules', rules]);
  agents.push(a);
  await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 15_000);
  // A rule file that does not validate: the agent refuses it and counts the refusal.
  writeFileSync(rules, 'apiVersion: gpu-health-agent/v1\nxid:\n  "43": {severity: deadly}\n');
  const { value: body } = await waitFor('a refused reload', async () => {
    const m = (await a.get('/metrics')).body;
    return /^gpu_health_rule_reloads_total\{result="refused"\} 1$/m.test(m) ? m : undefined;
  }, 10_000);
  const scraped = exposition(body);
  assert.ok(scraped.has('gpu_health_records_lost_total') && scraped.get('gpu_health_records_lost_total')?.has('source'), 'the kmsg source counts lost records');
  assert.match(body, /^gpu_health_source_up\{source="kmsg"\} 1$/m);
  assert.doesNotMatch(body, /gpu_health_source_up\{source="(dcgm|nvml)"\}/, '--gpu-backend none: both GPU sources are disabled, so they have no source_up series');

  const used = new Map<string, Set<string>>();
  const merge = (from: Map<string, Set<string>>, where: string): void => {
    for (const [name, labels] of from) {
      const set = used.get(name) ?? new Set<string>();
      for (const l of labels) set.add(`${l}\u0000${where}`);
      used.set(name, set);
    }
  };
  for (const r of ruleFile((await renderPrometheusRule()).objects).groups.flatMap((g) => g.rules)) merge(metricsInExpr(r.expr), `alert ${r.alert}`);
  merge(await seriesInAlertTests(), 'test/prometheus/alerts.test.yaml');
  assert.ok(used.size >= 7, `metrics found in the rules: ${[...used.keys()].join(', ')}`);

  const problems: string[] = [];
  for (const [name, tagged] of used) {
    if (PROMETHEUS_MADE.has(name)) continue;
    const have = scraped.get(name);
    if (have === undefined) {
      if (name in PENDING) {
        t.diagnostic(`pending metric ${name} is not in the scrape yet (remove it from PENDING once its branch is merged)`);
        continue;
      }
      problems.push(`${name}: not in the agent's /metrics (used by ${[...new Set([...tagged].map((x) => x.split('\u0000')[1]))].join(', ')})`);
      continue;
    }
    const labels = new Set([...have, ...(PENDING[name] ?? [])]);
    for (const x of tagged) {
      const [label, where] = x.split('\u0000') as [string, string];
      if (!TARGET_LABELS.has(label) && !labels.has(label)) problems.push(`${name}{${label}}: no such label in the agent's /metrics (used by ${where})`);
    }
    if (name in PENDING) t.diagnostic(`pending metric ${name} is in the scrape now: remove it from PENDING`);
  }
  assert.deepEqual(problems, []);
  assert.equal(await a.stop(), 0);
});

test('the scanner catches a metric or a label the agent does not have', () => {
  const m = metricsInExpr('sum by (node, flavour) (increase(gpu_health_recordz_total{source="kmsg"}[5m])) > 0 or gpu_health_source_up == 0');
  assert.deepEqual([...m.keys()].sort(), ['gpu_health_recordz_total', 'gpu_health_source_up']);
  assert.deepEqual([...(m.get('gpu_health_recordz_total') ?? [])].sort(), ['flavour', 'node', 'source']);
});
