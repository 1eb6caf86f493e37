// The node's NVIDIA devices from sysfs into the health state, at start (before the
// kernel log is read) and now and then after, with one log line when the list changes.
import type { Logger } from 'pino';
import { learnDevices, type HealthState } from '../health/index.ts';
import { scanNvidiaFunctions } from '../sources/sysfs/nvidia-devices.ts';

export function createDeviceScan(sysfsRoot: string, log: Logger): (state: HealthState) => void {
  let logged = false;
  return (state) => {
    const scan = scanNvidiaFunctions(sysfsRoot);
    const before = state.devices.known.size;
    learnDevices(state, scan.devices.map((d) => d.pci), 'sysfs');
    if (scan.error !== null) {
      log.warn({ sysfsRoot, err: scan.error }, 'cannot list PCI devices');
      return;
    }
    if (logged && state.devices.known.size === before) return;
    logged = true;
    const gpus = scan.devices.filter((d) => d.kind === 'gpu').length;
    log[state.devices.listed ? 'info' : 'warn'](
      { sysfsRoot, gpus, switches: scan.devices.length - gpus, known: state.devices.known.size },
      state.devices.listed ? 'NVIDIA devices of this node' : 'sysfs lists no NVIDIA device: kernel records are checked by their format alone',
    );
  };
}
