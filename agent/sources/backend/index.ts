// createGpuSource: the GPU management source the runtime wires in, with the
// backend chosen by --gpu-backend. 'auto' takes DCGM when a host engine answers
// at start, else NVML: an NVML that does not load is down with its own error
// (and retried, as with 'nvml'), never silently off; the kernel log still
// watches the node. 'none' reports both management sources as disabled.
import type { SourceStatus } from '../../model/source-status.ts';
import { createDcgmSource } from '../dcgm/source.ts';
import { createNvmlSource } from '../nvml/source.ts';
import type { GpuBackend, GpuSource, GpuSourceOptions, GpuSourceSink } from '../gpu/types.ts';

export type { GpuBackend, GpuSource, GpuSourceOptions, GpuSourceSink } from '../gpu/types.ts';

export function createGpuSource(options: GpuSourceOptions, sink: GpuSourceSink): GpuSource {
  let chosen: GpuBackend = options.backend;
  let active: { stop(): Promise<void> } | null = null;
  let stopped = false;
  const now = options.now ?? Date.now;
  const disabled = (source: SourceStatus['source'], detail: string): void =>
    sink.onStatus({ source, state: 'disabled', since: now(), detail, caughtUp: true });

  async function startAuto(): Promise<void> {
    const dcgm = createDcgmSource(options, sink);
    if (await dcgm.tryConnect()) {
      if (stopped) return void (await dcgm.stop());
      chosen = 'dcgm';
      active = dcgm;
      disabled('nvml', 'gpu backend auto: DCGM host engine answered');
      dcgm.start();
      return;
    }
    await dcgm.stop();
    if (stopped) return;
    chosen = 'nvml';
    disabled('dcgm', `gpu backend auto: no DCGM host engine at ${options.dcgmAddress}`);
    const nvml = createNvmlSource(options, sink);
    active = nvml;
    nvml.start();
  }

  return {
    backend: () => chosen,
    start(): void {
      switch (options.backend) {
        case 'dcgm': {
          const s = createDcgmSource(options, sink);
          active = s;
          disabled('nvml', 'gpu backend dcgm');
          s.start();
          return;
        }
        case 'nvml': {
          const s = createNvmlSource(options, sink);
          active = s;
          disabled('dcgm', 'gpu backend nvml');
          s.start();
          return;
        }
        case 'auto':
          void startAuto();
          return;
        case 'none':
          disabled('dcgm', 'gpu backend none');
          disabled('nvml', 'gpu backend none');
          return;
      }
    },
    async stop(): Promise<void> {
      stopped = true;
      await active?.stop();
    },
  };
}
