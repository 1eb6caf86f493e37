// `npm run faults [-- WORD ...] [--json]`: replays the review's scenarios against the
// real built agent, one after another, and prints a table (scenario, expected,
// observed, figure). Exit 1 when any row fails. Needs root (mounts, setpriv, the
// kernel log) and `npm run build`. Adding a scenario: a module under scenarios/
// exporting `scenarios: Scenario[]`, listed in SUITES below.
import { requireBuild } from '../helpers/agent-process.ts';
import type { Outcome, Scenario } from './scenario.ts';
import { scenarios as debugEndpoint } from './scenarios/debug-endpoint.ts';
import { scenarios as oversizedFiles } from './scenarios/oversized-files.ts';
import { scenarios as stateDir } from './scenarios/state-dir.ts';
import { scenarios as controlSocket } from './scenarios/control-socket.ts';
import { scenarios as rules } from './scenarios/rules.ts';
import { scenarios as logVolume } from './scenarios/log-volume.ts';
import { scenarios as evidence } from './scenarios/evidence.ts';
import { scenarios as persistence } from './scenarios/persistence.ts';
import { errorText } from '../../agent/model/text.ts';

const SUITES: Scenario[][] = [evidence, persistence, debugEndpoint, oversizedFiles, stateDir, controlSocket, rules, logVolume];

interface Row extends Outcome {
  name: string;
  ref: string;
  expected: string;
  ms: number;
}

async function runOne(s: Scenario): Promise<Row> {
  const start = Date.now();
  const limit = s.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, observed: `no result within ${limit / 1000} s`, figure: '-' }), limit);
  });
  let out: Outcome;
  try {
    out = await Promise.race([s.run(), late]);
  } catch (err) {
    out = { ok: false, observed: `error: ${briefly(errorText(err))}`, figure: '-' };
  } finally {
    clearTimeout(timer);
  }
  return { name: s.name, ref: s.ref, expected: s.expected, ...out, ms: Date.now() - start };
}

/** An error's first clause, with the agent's own error when its log lines came with it. */
function briefly(message: string): string {
  const first = message.split(/[;\n]/)[0] ?? message;
  const agentErr = /"err":"([^"]{1,160})"/.exec(message)?.[1];
  return (agentErr === undefined ? first : `${first}: ${agentErr}`).slice(0, 200);
}

function table(rows: Row[]): string {
  const head = ['', 'scenario', 'ref', 'expected', 'observed', 'figure', 's'];
  const cells = rows.map((r) => [r.ok ? 'ok' : 'FAIL', r.name, r.ref, r.expected, r.observed, r.figure, (r.ms / 1000).toFixed(1)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

const args = process.argv.slice(2);
const json = args.includes('--json');
const words = args.filter((a) => a !== '--json');
requireBuild();
const chosen = SUITES.flat().filter((s) => words.length === 0 || words.some((w) => s.name.includes(w)));
if (chosen.length === 0) {
  process.stderr.write(`faults: no scenario matches ${words.join(' ')}\n`);
  process.exit(2);
}
const rows: Row[] = [];
for (const s of chosen) {
  const row = await runOne(s);
  rows.push(row);
  if (!json) process.stderr.write(`${row.ok ? 'ok  ' : 'FAIL'} ${row.name} (${(row.ms / 1000).toFixed(1)} s)\n`);
}
process.stdout.write(json ? `${JSON.stringify(rows, null, 2)}\n` : `\n${table(rows)}\n`);
const failed = rows.filter((r) => !r.ok).length;
if (!json) process.stdout.write(`\n${rows.length - failed} of ${rows.length} scenarios as expected\n`);
process.exit(failed === 0 ? 0 : 1);
