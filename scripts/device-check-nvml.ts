// Device check: loads NVML through the agent's own binding and worker (the same
// code the NVML source runs) and prints what it sees, in one short run (< 60 s):
// identity, counters, the source's status detail (which readings this driver or
// GPU lacks), and an event wait that should time out on a healthy GPU.
//
//   node scripts/device-check-nvml.ts [--lib PATH] [--wait-ms N]
//   GHA_NVML_LIB=native/build/libnvidia-ml.so.1 node scripts/device-check-nvml.ts   (stand-in)
//
// Default library: libnvidia-ml.so.1 (the real driver's). Exit 0 when every step
// answered, 1 otherwise. Prints one JSON object per step.
import { parseArgs } from 'node:util';
import { CallWorker } from '../agent/sources/gpu/call-worker.ts';
import { normalisePci } from '../agent/model/pci.ts';
import { recoveryAction } from '../agent/sources/gpu/recovery.ts';
import { nvmlStatusDetail } from '../agent/sources/nvml/status-detail.ts';
import type { CountersResult, OpenResult, WaitEvent } from '../agent/sources/nvml/worker.ts';
import { errorText } from '../agent/model/text.ts';

const { values } = parseArgs({ options: { lib: { type: 'string' }, 'wait-ms': { type: 'string' } } });
const libPath = values.lib ?? process.env.GHA_NVML_LIB ?? 'libnvidia-ml.so.1';
const waitMs = Number(values['wait-ms'] ?? 2000);
const CALL_TIMEOUT_MS = 15_000;

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const worker = new CallWorker(new URL(`../agent/sources/nvml/worker${ext}`, import.meta.url));
const print = (step: string, data: unknown): void => console.log(JSON.stringify({ step, ...(data as object) }));

async function main(): Promise<number> {
  const t0 = performance.now();
  print('start', { libPath, node: process.version, arch: process.arch });

  const open = await worker.call<OpenResult>('open', { libPath }, CALL_TIMEOUT_MS);
  print('identity', {
    standin: open.standin,
    driverVersion: open.driverVersion,
    count: open.gpus.length,
    gpus: open.gpus.map((g) => ({
      index: g.index,
      uuid: g.uuid,
      pciBusId: g.pciBusId,
      pci: normalisePci(g.pciBusId),
      name: g.name,
      registeredEvents: `0x${g.events.toString(16)}`,
    })),
  });

  const c = await worker.call<CountersResult>('counters', null, CALL_TIMEOUT_MS);
  print('counters', {
    count: c.count,
    gpus: c.gpus.map((g) => ({
      ...g,
      recoveryActionName: g.recoveryAction === null ? null : recoveryAction(g.recoveryAction).name,
    })),
  });

  print('status', { detail: nvmlStatusDetail(open, c) });

  const w0 = performance.now();
  const events = await worker.call<WaitEvent[]>('wait', { timeoutMs: waitMs, max: 64 }, waitMs + CALL_TIMEOUT_MS);
  const waited = Math.round(performance.now() - w0);
  print('event-wait', {
    timeoutMs: waitMs,
    waitedMs: waited,
    timedOut: events.length === 0,
    events: events.map((e) => ({ ...e, type: `0x${e.type.toString(16)}` })),
  });

  await worker.call('close', null, CALL_TIMEOUT_MS);
  print('done', { totalMs: Math.round(performance.now() - t0) });
  return 0;
}

main()
  .catch((e: unknown) => {
    print('error', { message: errorText(e) });
    return 1;
  })
  .then(async (code) => {
    await worker.close();
    process.exit(code);
  });
