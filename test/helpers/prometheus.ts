// The chart's PrometheusRule as promtool sees it, and the metric names and labels
// its expressions and unit tests use, for test/unit/prometheus-rules.test.ts and
// test/integration/alert-metrics.test.ts.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { findBinaries } from '../cluster/harness/binaries.ts';
import { CHART_DIR, NAMESPACE, RELEASE, ROOT } from '../../scripts/generate-manifests.ts';

const run = promisify(execFile);

export const ALERT_TESTS = join(ROOT, 'test', 'prometheus', 'alerts.test.yaml');

/** Labels Prometheus adds to every series of a target (the ServiceMonitor's relabeling adds `node`). */
export const TARGET_LABELS = new Set(['job', 'instance', 'node', 'namespace', 'pod', 'service', 'container', 'endpoint']);

export interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** promtool from PATH or Debian's prometheus package (scripts/promtool.sh fetches it once). */
export async function promtool(): Promise<string> {
  const { stdout } = await run('bash', [join(ROOT, 'scripts', 'promtool.sh')], { timeout: 300_000 });
  return stdout.trim();
}

/** `helm template` of the chart's PrometheusRule (default release and namespace) with `set` values. */
export async function renderPrometheusRule(set: string[] = ['metrics.enabled=true', 'metrics.prometheusRule.enabled=true']): Promise<{ text: string; objects: Array<Record<string, unknown>> }> {
  const { helm } = await findBinaries({ build: false });
  const { stdout } = await run(helm, ['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE, ...set.flatMap((s) => ['--set', s])], { maxBuffer: 16 << 20 });
  const objects = parseAllDocuments(stdout).map((d) => d.toJS() as Record<string, unknown> | null).filter((o): o is Record<string, unknown> => o !== null);
  return { text: stdout, objects };
}

/** The rule file promtool reads: the PrometheusRule's spec. */
export function ruleFile(objects: Array<Record<string, unknown>>): { groups: Array<{ name: string; rules: Rule[] }> } {
  const pr = objects.find((o) => o.kind === 'PrometheusRule') as { spec: { groups: Array<{ name: string; rules: Rule[] }> } } | undefined;
  if (pr === undefined) throw new Error('the chart rendered no PrometheusRule');
  return { groups: pr.spec.groups };
}

/** Metric name -> label names a PromQL expression selects or groups by (a small scanner: selectors, `by (...)`, bare names). */
export function metricsInExpr(expr: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (name: string, labels: string[]): void => {
    const set = out.get(name) ?? new Set<string>();
    for (const l of labels) set.add(l);
    out.set(name, set);
  };
  const selector = /\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g;
  for (const m of expr.matchAll(selector)) add(m[1] as string, [...(m[2] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1] as string));
  const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'max', 'min', 'sum', 'count', 'avg', 'increase', 'rate', 'absent', 'vector']);
  const grouped = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => (m[1] as string).split(',').map((s) => s.trim()).filter((s) => s !== ''));
  for (const m of expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '').replace(/\b(?:by|without)\s*\([^)]*\)/g, '').matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
    const name = m[1] as string;
    if (!keywords.has(name) && !/^\d/.test(name) && /_/.test(name)) add(name, []);
  }
  // `by (...)` labels belong to the metric(s) under the aggregation: credit them to every metric of the expression.
  for (const name of out.keys()) add(name, grouped);
  return out;
}

/** Metric name -> label names of each input series of the promtool unit tests. */
export async function seriesInAlertTests(): Promise<Map<string, Set<string>>> {
  const doc = parse(await readFile(ALERT_TESTS, 'utf8')) as { tests: Array<{ input_series: Array<{ series: string }> }> };
  const out = new Map<string, Set<string>>();
  for (const t of doc.tests) {
    for (const s of t.input_series) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$/.exec(s.series);
      if (m === null) throw new Error(`unreadable series ${s.series}`);
      const set = out.get(m[1] as string) ?? new Set<string>();
      for (const l of (m[2] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) set.add(l[1] as string);
      out.set(m[1] as string, set);
    }
  }
  return out;
}

/** Metric name -> label names in a Prometheus text exposition (/metrics). */
export function exposition(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const typed = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (typed !== null) {
      out.set(typed[1] as string, out.get(typed[1] as string) ?? new Set());
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (m === null) continue;
    const set = out.get(m[1] as string) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) set.add(l[1] as string);
    out.set(m[1] as string, set);
  }
  return out;
}
