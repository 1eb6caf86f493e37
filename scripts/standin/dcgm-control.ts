// Client side of the stand-in host engine's control verbs: what
// `npm run standin:dcgm -- inject|incident|hang|...` and the tests use.
import net from 'node:net';

/** Health system names as DCGM's bitmask. */
export const HEALTH_SYSTEMS: Record<string, number> = {
  pcie: 0x1, nvlink: 0x2, pmu: 0x4, mcu: 0x8, mem: 0x10, sm: 0x20, inforom: 0x40, thermal: 0x80, power: 0x100,
  driver: 0x200, 'nvswitch-nonfatal': 0x400, 'nvswitch-fatal': 0x800, connectx: 0x1000, all: 0xffffffff,
};

/** Sends one line to the engine and resolves with its reply line. */
export function engineSend(socketPath: string, line: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`stand-in engine at ${socketPath} did not answer ${line.split(' ')[0]} in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write(line + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.destroy();
      const reply = buf.slice(0, nl);
      if (!reply.startsWith('0')) reject(new Error(`stand-in engine refused ${line}: ${reply}`));
      else resolve(reply);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export async function injectField(
  socketPath: string,
  gpu: number,
  field: number,
  value: number | string,
  opts: { type?: 'i' | 'd' | 's'; offsetSec?: number } = {},
): Promise<void> {
  const type = opts.type ?? (typeof value === 'string' && !/^-?\d+$/.test(value) ? 's' : 'i');
  const ts = BigInt(Math.round((Date.now() / 1000 + (opts.offsetSec ?? 0)) * 1e6));
  const v = type === 's' ? encodeURIComponent(String(value)) : String(value);
  await engineSend(socketPath, `INJECT ${gpu} ${field} ${type} ${ts} ${v || '%00'}`);
}

/** dcgmFabricManagerStatus_t (dcgm_structs.h), by the names `fabric --manager` takes. */
export const FABRIC_MANAGER_STATUS: Record<string, number> = {
  'not-supported': 0, 'not-started': 1, 'in-progress': 2, success: 3, failure: 4, unrecognized: 5, 'nvml-too-old': 6,
};

/** Sets a GPU's fabric fields as DCGM reports them: 170 (Fabric Manager status) and 174 (health mask). */
export async function setFabric(socketPath: string, gpu: number, f: { manager?: string | number; mask?: number }): Promise<void> {
  if (f.manager !== undefined) {
    const status = typeof f.manager === 'number' ? f.manager : (FABRIC_MANAGER_STATUS[f.manager] ?? Number(f.manager));
    if (!Number.isInteger(status)) throw new Error(`unknown Fabric Manager status ${String(f.manager)}`);
    await injectField(socketPath, gpu, 170, status, { type: 'i' });
  }
  if (f.mask !== undefined) await injectField(socketPath, gpu, 174, f.mask, { type: 'i' });
}

export async function addIncident(
  socketPath: string,
  i: { gpu: number; system: string | number; result: 'warn' | 'fail'; code: number; message: string; entityGroup?: number },
): Promise<void> {
  const system = typeof i.system === 'number' ? i.system : HEALTH_SYSTEMS[i.system];
  if (system === undefined) throw new Error(`unknown health system ${String(i.system)}`);
  const health = i.result === 'fail' ? 20 : 10;
  const msg = encodeURIComponent(i.message) || '%00';
  await engineSend(socketPath, `CTL-INCIDENT ${i.gpu} ${system >>> 0} ${health} ${i.code} ${i.entityGroup ?? 1} ${msg}`);
}

export const setHang = (socketPath: string, on: boolean): Promise<string> =>
  engineSend(socketPath, `CTL-HANG ${on ? 'on' : 'off'}`);
export const setGarbage = (socketPath: string, mode: 'off' | 'bytes' | 'values'): Promise<string> =>
  engineSend(socketPath, `CTL-GARBAGE ${mode}`);
export const setVisibleGpus = (socketPath: string, n: number): Promise<string> => engineSend(socketPath, `CTL-GPUS ${n}`);
export const clearEngine = (socketPath: string): Promise<string> => engineSend(socketPath, 'CTL-CLEAR');
export async function engineState(socketPath: string): Promise<Record<string, unknown>> {
  const reply = await engineSend(socketPath, 'CTL-STATE');
  return JSON.parse(decodeURIComponent(reply.slice(2))) as Record<string, unknown>;
}
