// Writes the STAND-IN NVML's append-only control file (format documented in
// native/nvml/nvml_standin.c). The library applies new lines on its next call.
import fs from 'node:fs';

export interface NvmlControl {
  path: string;
  gpus(n: number): void;
  set(gpu: number, key: string, value: number): void;
  xid(gpu: number, code: number): void;
  event(gpu: number, type: number, data: number): void;
  hang(on: boolean): void;
  /** The version string the driver reports. */
  driver(version: string): void;
  /** The event types (mask) a GPU supports. */
  supportedEvents(gpu: number, types: number): void;
  /** A field id the driver does not know; null: it knows every field again. */
  unknownField(fieldId: number | null): void;
}

export function nvmlControl(path: string): NvmlControl {
  const append = (line: string): void => fs.appendFileSync(path, line + '\n');
  return {
    path,
    gpus: (n) => append(`gpus ${n}`),
    set: (gpu, key, value) => append(`set ${gpu} ${key} ${value}`),
    xid: (gpu, code) => append(`xid ${gpu} ${code}`),
    event: (gpu, type, data) => append(`event ${gpu} ${type} ${data}`),
    hang: (on) => append(`hang ${on ? 1 : 0}`),
    driver: (version) => append(`driver ${version}`),
    supportedEvents: (gpu, types) => append(`supported ${gpu} ${types}`),
    unknownField: (fieldId) => append(`nofield ${fieldId ?? 'clear'}`),
  };
}
