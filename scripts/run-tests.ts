// Runs every test suite with Node's own test runner. No suite is optional:
// a suite whose real component (kernel log, API server, native stand-in) is
// missing fails here, it is never skipped.
import { spawn } from 'node:child_process';
import { Cluster } from '../test/cluster/harness/cluster.ts';

const suites = process.argv.slice(2);
const globs = suites.length > 0 ? suites : ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/cluster/**/*.test.ts', 'test/image/**/*.test.ts'];

// Cluster suites share one real control plane (etcd + kube-apiserver, ~4 s to
// start) unless GPU_HEALTH_AGENT_CLUSTER already names one; a test that stops
// the API server starts its own. Missing binaries are built here, once, and a
// failure fails the run.
let cluster: Cluster | undefined;
const env = { ...process.env };
if (globs.some((g) => g.includes('test/cluster') || g.includes('test/image')) && !env.GPU_HEALTH_AGENT_CLUSTER) {
  cluster = await Cluster.start();
  env.GPU_HEALTH_AGENT_CLUSTER = cluster.stateFile;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cluster?.stop().finally(() => process.exit(130)));
}

const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...globs], {
  stdio: 'inherit',
  env,
});
const status = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
await cluster?.stop();
process.exit(status);
