// The operator's way in from the node itself: a unix socket in the state
// directory (nothing listens on the network). One JSON request line in, one JSON
// reply line out. Root only, twice over: the socket is created with mode 0600
// (connect() checks the mode only once, so a chmod after listen() would leave a
// window in which anyone could connect and be served later), and each
// connection's peer uid (SO_PEERCRED) is checked before a byte is read.
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { lstat, unlink, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { peerCred } from './peer-cred.ts';
import { errorText } from '../model/text.ts';

export const CONTROL_SOCKET = 'control.sock';
const MAX_REQUEST_BYTES = 4096;

export interface ClearRequest {
  op: 'clear';
  /** PCI bus id, UUID or index; absent clears every GPU. */
  gpu?: string;
}

export type ControlReply = { ok: true; detail: string; cleared: number } | { ok: false; error: string };

export type ControlHandler = (req: ClearRequest) => ControlReply;

export function controlSocketPath(stateDir: string): string {
  return join(stateDir, CONTROL_SOCKET);
}

export interface ControlSocketOptions {
  /** Uids let in; default root and the agent's own user. */
  allowedUids?: number[];
  /** A connection turned away: its peer's uid, or null when the peer could not be told. */
  onDenied?: (uid: number | null, why: string) => void;
}

/** Another agent answers on this state dir's socket: this one must not start. */
export class StateDirTaken extends Error {}

/** Listens on the control socket; throws StateDirTaken if another agent already serves this state dir. */
export async function listenControlSocket(stateDir: string, handle: ControlHandler, opts: ControlSocketOptions = {}): Promise<Server> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = controlSocketPath(stateDir);
  if (await isServed(path)) throw new StateDirTaken(`another agent is serving ${path}; one agent per state directory`);
  await unlink(path).catch(() => undefined);
  const allowed = new Set(opts.allowedUids ?? [0, process.geteuid?.() ?? 0]);
  const server = createServer((socket) => {
    const denied = deny(socket, allowed);
    if (denied === null) return serve(socket, handle);
    opts.onDenied?.(denied.uid, denied.why);
    socket.on('error', () => undefined);
    reply(socket, { ok: false, error: denied.why });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // bind(2) runs inside listen(), synchronously: the umask in force for exactly
    // that call gives the socket its final mode, 0600, as it is created.
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => resolve());
    } finally {
      process.umask(umask);
    }
  });
  const mode = (await lstat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    server.close();
    throw new Error(`control socket ${path} was created with mode ${mode.toString(8)}, not 600`);
  }
  server.unref();
  return server;
}

/** Why this connection may not be served, or null when its peer is allowed. */
function deny(socket: Socket, allowed: Set<number>): { uid: number | null; why: string } | null {
  let uid: number;
  try {
    uid = peerCred(socket).uid;
  } catch (err) {
    return { uid: null, why: `refused: the peer cannot be identified (${errorText(err)})` };
  }
  return allowed.has(uid) ? null : { uid, why: `permission denied: uid ${uid} may not use the control socket (root only)` };
}

function serve(socket: Socket, handle: ControlHandler): void {
  let buf = '';
  let answered = false;
  socket.setEncoding('utf8');
  socket.setTimeout(5000, () => socket.destroy());
  socket.on('error', () => undefined);
  socket.on('data', (chunk: string) => {
    if (answered) return;
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl === -1 && buf.length <= MAX_REQUEST_BYTES) return;
    answered = true;
    reply(socket, nl === -1 ? { ok: false, error: 'request too large' } : answer(buf.slice(0, nl), handle));
  });
}

function answer(line: string, handle: ControlHandler): ControlReply {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    return { ok: false, error: 'request is not JSON' };
  }
  if (typeof req !== 'object' || req === null || (req as { op?: unknown }).op !== 'clear') return { ok: false, error: 'unknown op' };
  const gpu = (req as { gpu?: unknown }).gpu;
  if (gpu !== undefined && (typeof gpu !== 'string' || gpu === '')) return { ok: false, error: 'gpu must be a non-empty string' };
  try {
    return handle(gpu === undefined ? { op: 'clear' } : { op: 'clear', gpu });
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}

function reply(socket: Socket, r: ControlReply): void {
  socket.end(JSON.stringify(r) + '\n');
}

function isServed(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Client side, for `gpu-health-agent clear`. */
export function sendControlRequest(stateDir: string, req: ClearRequest, timeoutMs = 5000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const s = createConnection(controlSocketPath(stateDir));
    let buf = '';
    s.setEncoding('utf8');
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      reject(new Error(`no answer from the agent within ${timeoutMs} ms`));
    });
    s.once('connect', () => s.write(JSON.stringify(req) + '\n'));
    s.on('data', (chunk: string) => (buf += chunk));
    s.once('end', () => {
      try {
        resolve(JSON.parse(buf) as ControlReply);
      } catch {
        reject(new Error(`unreadable answer from the agent: ${JSON.stringify(buf.slice(0, 200))}`));
      }
    });
    s.once('error', reject);
  });
}
