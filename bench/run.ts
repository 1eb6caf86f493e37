// Every benchmark, one after another (never in parallel: they measure CPU and
// memory). Builds first, since agent-memory and condition-latency run the built
// agent. Flags after `--` go to every benchmark; --json is passed through and the
// output is then one JSON object keyed by benchmark.
//
//   npm run bench [-- --json] [--no-build] [--only NAME[,NAME]]
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const BENCHES = ['kmsg-throughput', 'agent-memory', 'condition-latency', 'peer-npd', 'fleet'];

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const onlyAt = args.indexOf('--only');
const only = onlyAt === -1 ? BENCHES : (args[onlyAt + 1] ?? '').split(',');
const unknown = only.filter((b) => !BENCHES.includes(b));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown benchmark(s) ${unknown.join(', ')}; known: ${BENCHES.join(', ')}\n`);
  process.exit(2);
}
const passOn = args.filter((a, i) => a !== '--no-build' && a !== '--only' && !(onlyAt !== -1 && i === onlyAt + 1));

if (!args.includes('--no-build')) {
  const b = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

const results: Record<string, unknown> = {};
let failed = 0;
for (const name of only) {
  if (!asJson) process.stdout.write(`\n== ${name} (${new Date().toISOString()})\n`);
  const r = spawnSync(process.execPath, [join(ROOT, 'bench', `${name}.ts`), ...passOn], {
    cwd: ROOT,
    stdio: ['ignore', asJson ? 'pipe' : 'inherit', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`bench: ${name} exited with ${r.status ?? r.signal}\n`);
    results[name] = { error: `exited with ${r.status ?? r.signal}` };
    continue;
  }
  if (asJson) results[name] = JSON.parse(r.stdout);
}
if (asJson) process.stdout.write(JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2) + '\n');
process.exitCode = failed === 0 ? 0 : 1;
