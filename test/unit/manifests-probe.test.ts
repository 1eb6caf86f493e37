// The chart's liveness/readiness command (bash /dev/tcp against the loopback
// debug server) run for real against the agent's debug server: it must pass
// on 200, fail on 503, and fail when nothing listens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findBinaries } from '../cluster/harness/binaries.ts';
import { CHART_DIR } from '../../scripts/generate-manifests.ts';
import { one, parseManifests } from '../cluster/chart-checks.ts';
import { startDebugServer, type DebugSurface, type Probe } from '../../agent/runtime/inspect/server.ts';

const run = promisify(execFile);

async function probeCommands(port: number): Promise<{ liveness: string[]; readiness: string[] }> {
  const { helm } = await findBinaries({ build: false });
  const { stdout } = await run(helm, ['template', 'p', CHART_DIR, '--set', `debug.port=${port}`]);
  const agent = one(parseManifests(stdout), 'DaemonSet').spec.template.spec.containers[0];
  return { liveness: agent.livenessProbe.exec.command, readiness: agent.readinessProbe.exec.command };
}

async function exitCode(command: string[]): Promise<number> {
  const [file, ...args] = command as [string, ...string[]];
  try {
    await run(file, args, { timeout: 10_000 });
    return 0;
  } catch (err) {
    return typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
  }
}

test('exec probes pass on 200 and fail on 503 or a closed port, per endpoint', async () => {
  let live: Probe = { ok: true, detail: 'readers running' };
  let ready: Probe = { ok: false, detail: 'replaying the kernel log' };
  const surface: DebugSurface = {
    liveness: () => live,
    readiness: () => ready,
    state: () => ({}),
    rules: () => ({}),
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
  };
  const server = await startDebugServer({ host: '127.0.0.1', port: 0 }, surface);
  const port = server.address.port;
  const probes = await probeCommands(port);
  try {
    assert.equal(probes.liveness[0], '/bin/bash');
    assert.equal(await exitCode(probes.liveness), 0, 'healthy: liveness passes');
    assert.notEqual(await exitCode(probes.readiness), 0, 'not ready yet: readiness fails');
    ready = { ok: true, detail: 'caught up' };
    assert.equal(await exitCode(probes.readiness), 0, 'ready: readiness passes');
    live = { ok: false, detail: 'kmsg reader died' };
    assert.notEqual(await exitCode(probes.liveness), 0, 'a dead reader: liveness fails');
  } finally {
    await server.close();
  }
  assert.notEqual(await exitCode(probes.liveness), 0, 'nothing listening: liveness fails');
});
