// AF_PACKET raw sockets (libc via koffi) for the lab's generator on kernels that refuse
// BPF_PROG_TEST_RUN live frames: a socket bound to one device, PACKET_QDISC_BYPASS so
// a frame goes straight to the driver (veth then picks the peer's receive queue from
// the sending CPU, as it does for redirected frames), and sendmmsg over a batch built
// once, so a call hands the kernel up to a batch of frames with no JavaScript per frame.
import { koffi, library, NativeError } from "./lib.ts";
import { sys } from "./sys.ts";

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000; // children (xdpc run, tcpdump…) must not inherit the socket
const SOL_PACKET = 263;
const PACKET_QDISC_BYPASS = 20;

// x86-64 layouts: struct iovec (16), struct msghdr (56), struct mmsghdr (64).
const IOVEC = 16;
const MMSGHDR = 64;

let api:
  | {
      socket: (d: number, t: number, p: number) => number;
      setsockopt: (fd: number, level: number, name: number, val: Buffer, len: number) => number;
      bind: (fd: number, addr: Buffer, len: number) => number;
      sendmmsg: (fd: number, vec: Buffer, n: number, flags: number) => number;
      close: (fd: number) => number;
    }
  | undefined;

function bind() {
  if (api) return api;
  const libc = library("libc.so.6");
  const f = (sig: string) => libc.func(sig) as never;
  api = {
    socket: f("int socket(int domain, int type, int protocol)"),
    setsockopt: f("int setsockopt(int fd, int level, int name, const void *val, uint32_t len)"),
    bind: f("int bind(int fd, const void *addr, uint32_t len)"),
    sendmmsg: f("int sendmmsg(int fd, void *vec, unsigned int n, int flags)"),
    close: f("int close(int fd)"),
  };
  return api;
}

const errno = () => koffi().errno();
const address = (b: Uint8Array) => BigInt(koffi().address(b) as bigint | number);

/**
 * A send-only raw socket on device `ifindex` of the calling thread's namespace (it
 * stays bound to that device wherever it is used from). Protocol 0: it receives nothing.
 */
export const packetSocket = sys("packetSocket", function packetSocket(ifindex: number): number {
  const a = bind();
  const fd = a.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new NativeError("cannot create a packet socket", errno(), "socket");
  try {
    const one = Buffer.alloc(4);
    one.writeInt32LE(1);
    if (a.setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, one, 4) !== 0)
      throw new NativeError("cannot bypass the qdisc on a packet socket", errno(), "setsockopt");
    // struct sockaddr_ll { u16 family; be16 protocol; i32 ifindex; u16 hatype; u8 pkttype, halen; u8 addr[8]; }
    const sll = Buffer.alloc(20);
    sll.writeUInt16LE(AF_PACKET, 0);
    sll.writeInt32LE(ifindex, 4);
    if (a.bind(fd, sll, sll.length) !== 0)
      throw new NativeError(`cannot bind a packet socket to ifindex ${ifindex}`, errno(), "bind");
  } catch (e) {
    a.close(fd);
    throw e;
  }
  return fd;
});

/**
 * `size` frames of one length ready for sendmmsg. `distinct`: each message has its own
 * copy in `frames` (frame i at i × length) for the caller to rewrite between sends;
 * otherwise every message sends the one copy.
 */
export interface PacketBatch {
  readonly size: number;
  readonly frames: Uint8Array;
  /** Sends messages 0..n-1 (n ≤ size); returns how many the kernel took (0 when busy). */
  send(n: number): number;
}

export const packetBatch = sys(
  "packetBatch",
  function packetBatch(
    fd: number,
    frame: Uint8Array,
    size: number,
    distinct: boolean,
  ): PacketBatch {
    const len = frame.length;
    const copies = distinct ? size : 1;
    const frames = new Uint8Array(len * copies);
    for (let i = 0; i < copies; i++) frames.set(frame, i * len);
    const iov = Buffer.alloc(IOVEC * copies);
    const base = address(frames);
    for (let i = 0; i < copies; i++) {
      iov.writeBigUInt64LE(base + BigInt(i * len), i * IOVEC);
      iov.writeBigUInt64LE(BigInt(len), i * IOVEC + 8);
    }
    const vec = Buffer.alloc(MMSGHDR * size);
    const iovBase = address(iov);
    for (let i = 0; i < size; i++) {
      // msg_name NULL, msg_iov, msg_iovlen 1, no control; the socket's binding names the device.
      vec.writeBigUInt64LE(iovBase + BigInt((distinct ? i : 0) * IOVEC), i * MMSGHDR + 16);
      vec.writeBigUInt64LE(1n, i * MMSGHDR + 24);
    }
    const sendmmsg = bind().sendmmsg;
    return {
      size,
      frames,
      send(n: number): number {
        void iov; // vec holds raw addresses of iov (and iov of frames): keep both alive with it
        if (n > size) throw new RangeError(`batch of ${size}, asked for ${n}`);
        const r = sendmmsg(fd, vec, n, 0);
        if (r >= 0) return r;
        const e = errno();
        if (e === 4 || e === 11 || e === 105) return 0; // EINTR EAGAIN ENOBUFS: the caller retries
        throw new NativeError(
          e === 90
            ? `frame of ${len} bytes is longer than the device's MTU allows`
            : "sendmmsg failed",
          e,
          "sendmmsg",
        );
      },
    };
  },
);

export const closePacketSocket = sys(
  "closePacketSocket",
  function closePacketSocket(fd: number): void {
    if (fd >= 0) bind().close(fd);
  },
);
