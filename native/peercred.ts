// SO_PEERCRED: who is at the other end of a connected Unix socket (the credentials the
// kernel recorded at connect time), for root-only control sockets (runtime/xsk/control.ts).
import { koffi, library, NativeError } from "./lib.ts";
import { sys } from "./sys.ts";

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

let getsockopt:
  ((fd: number, level: number, name: number, val: Buffer, len: Buffer) => number) | undefined;
function bind() {
  getsockopt ??= library("libc.so.6").func(
    "int getsockopt(int fd, int level, int name, _Inout_ void *val, _Inout_ uint32_t *len)",
  ) as unknown as typeof getsockopt;
  return getsockopt!;
}

/** The peer of Unix socket `fd` (struct ucred: pid, uid, gid). */
export const peerCredentials = sys(
  "peerCredentials",
  function peerCredentials(fd: number): PeerCredentials {
    const b = Buffer.alloc(12);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(12);
    if (bind()(fd, SOL_SOCKET, SO_PEERCRED, b, len) !== 0)
      throw new NativeError(
        "cannot read a control socket peer's credentials",
        koffi().errno(),
        "getsockopt",
      );
    return { pid: b.readInt32LE(0), uid: b.readUInt32LE(4), gid: b.readUInt32LE(8) };
  },
);
