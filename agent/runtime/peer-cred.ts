// Who is on the other end of a unix socket: SO_PEERCRED, which the kernel fills
// from the connecting process's credentials at connect() time, so the peer can
// neither forge it nor change it later by passing the descriptor on. Node has no
// API for it; getsockopt(2) is called through koffi (as the kmsg reader calls
// poll(2)) on the accepted socket's descriptor. Linux only, like the agent.
import type { Socket } from 'node:net';
import koffi from 'koffi';

// <asm-generic/socket.h>, the same on x86_64 and arm64 (the agent's platforms).
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** struct ucred { pid_t pid; uid_t uid; gid_t gid; } */
const UCRED_BYTES = 12;

type GetSockOpt = (fd: number, level: number, name: number, value: Buffer, length: [number]) => number;

let getsockopt: GetSockOpt | null | undefined;

function bind(): GetSockOpt | null {
  if (getsockopt !== undefined) return getsockopt;
  getsockopt = null;
  for (const name of ['libc.so.6', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1', 'libc.so']) {
    try {
      getsockopt = koffi.load(name).func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *length)') as GetSockOpt;
      break;
    } catch {
      // try the next name
    }
  }
  return getsockopt;
}

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** The peer of an accepted unix-socket connection; throws when it cannot be told (then nobody should be let in). */
export function peerCred(socket: Socket): PeerCred {
  const fn = bind();
  if (fn === null) throw new Error('libc cannot be loaded to read SO_PEERCRED');
  // libuv's stream handle; its descriptor is what the kernel knows the connection by.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no descriptor');
  const value = Buffer.alloc(UCRED_BYTES);
  const length: [number] = [UCRED_BYTES];
  if (fn(fd, SOL_SOCKET, SO_PEERCRED, value, length) !== 0 || length[0] !== UCRED_BYTES) throw new Error('getsockopt(SO_PEERCRED) failed');
  return { pid: value.readInt32LE(0), uid: value.readUInt32LE(4), gid: value.readUInt32LE(8) };
}
