// The chart's PrometheusRule: off by default, rendered beside the ServiceMonitor;
// `promtool check rules` accepts it and `promtool test rules` passes its unit
// tests (test/prometheus/alerts.test.yaml). Each alert's tests can fail: with
// the alert's expression broken, promtool fails naming it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { ALERT_TESTS, promtool, renderPrometheusRule, ruleFile, type Rule } from '../helpers/prometheus.ts';

const run = promisify(execFile);
let bin: string;
let dir: string;
let rules: { groups: Array<{ name: string; rules: Rule[] }> };

async function promtoolRun(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(bin, args, { cwd: dir, timeout: 60_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

before(async () => {
  bin = await promtool();
  dir = await mkdtemp(join(tmpdir(), 'gha-promtool-'));
  rules = ruleFile((await renderPrometheusRule()).objects);
  await copyFile(ALERT_TESTS, join(dir, 'alerts.test.yaml'));
});

after(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('no PrometheusRule by default, nor without the metrics listener; with both, one beside the ServiceMonitor', async () => {
  assert.ok(!(await renderPrometheusRule([])).objects.some((o) => o.kind === 'PrometheusRule'));
  assert.ok(!(await renderPrometheusRule(['metrics.prometheusRule.enabled=true'])).objects.some((o) => o.kind === 'PrometheusRule'));
  const { objects } = await renderPrometheusRule(['metrics.enabled=true', 'metrics.serviceMonitor.enabled=true', 'metrics.prometheusRule.enabled=true', 'metrics.prometheusRule.labels.release=kube-prometheus-stack']);
  const pr = objects.find((o) => o.kind === 'PrometheusRule') as { metadata: { labels: Record<string, string>; namespace: string } };
  assert.equal(pr.metadata.labels.release, 'kube-prometheus-stack', 'labels for the Prometheus ruleSelector');
  assert.equal(pr.metadata.namespace, 'gpu-health-agent');
  // The `job` the alerts select is the one the ServiceMonitor's scrape gets: the metrics Service's name.
  const svc = objects.find((o) => o.kind === 'Service') as { metadata: { name: string } };
  const down = ruleFile(objects).groups[0]?.rules.find((r) => r.alert === 'GPUHealthAgentDown');
  assert.match(down?.expr ?? '', new RegExp(`up\\{job="${svc.metadata.name}"\\}`));
});

test('the alerts the issue asks for, each with a severity and a summary', () => {
  const all = rules.groups.flatMap((g) => g.rules);
  assert.deepEqual(all.map((r) => r.alert), [
    'GPUNodeConditionFalse', 'GPUHealthSourceDown', 'GPUHealthKernelRecordsLost', 'GPUHealthRulesRefused',
    'GPUHealthRulesRisky', 'GPUHealthRecordsRejected', 'GPUHealthAgentDown', 'GPUHealthAgentAbsent',
  ]);
  for (const r of all) {
    assert.match(r.labels?.severity ?? '', /^(critical|warning)$/, r.alert);
    assert.ok((r.annotations?.summary ?? '') !== '', `${r.alert} has a summary`);
  }
});

test('promtool check rules accepts the rendered rule, and promtool test rules passes the unit tests', async () => {
  await writeFile(join(dir, 'rules.yaml'), stringify(rules));
  const check = await promtoolRun(['check', 'rules', 'rules.yaml']);
  assert.equal(check.code, 0, check.out);
  assert.match(check.out, /SUCCESS: 8 rules found/);
  const unit = await promtoolRun(['test', 'rules', 'alerts.test.yaml']);
  assert.equal(unit.code, 0, unit.out);
  assert.match(unit.out, /SUCCESS/);
});

test('every alert\'s unit tests fail when its expression never fires', async () => {
  for (const alert of rules.groups.flatMap((g) => g.rules).map((r) => r.alert)) {
    const broken = structuredClone(rules);
    for (const r of broken.groups.flatMap((g) => g.rules)) if (r.alert === alert) r.expr = 'vector(1) < 0';
    await writeFile(join(dir, 'rules.yaml'), stringify(broken));
    const unit = await promtoolRun(['test', 'rules', 'alerts.test.yaml']);
    assert.notEqual(unit.code, 0, `${alert}: promtool test should fail with a never-firing expression`);
    assert.match(unit.out, new RegExp(`alertname: ${alert}, time: `), `${alert}: the failure names it`);
  }
  await writeFile(join(dir, 'rules.yaml'), stringify(rules));
});
