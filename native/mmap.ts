// mmap(2) of BPF map fds: libc's mmap/munmap, shared by the ring-buffer mapping
// (ring.ts) and the global-data mapping below (BPF_F_MMAPABLE arrays: libbpf creates
// .bss, .data and .rodata that way), which lets a control plane read and write a
// program's globals in place, with no syscall per access.
import { koffi, library, NativeError } from "./lib.ts";
import { sys } from "./sys.ts";

export type Ptr = unknown;
let libc:
  | {
      mmap: (addr: null, len: number, prot: number, flags: number, fd: number, off: number) => Ptr;
      munmap: (addr: Ptr, len: number) => number;
      pageSize: number;
    }
  | undefined;

export function libcMmap(): NonNullable<typeof libc> {
  if (libc) return libc;
  const c = library("libc.so.6");
  const sysconf = c.func("long sysconf(int name)");
  libc = {
    mmap: c.func("void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)"),
    munmap: c.func("int munmap(void *addr, size_t len)"),
    pageSize: Number(sysconf(30)), // _SC_PAGESIZE
  };
  return libc;
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;

export interface ValueMapping {
  /** The map's value 0, live: the program's writes show here, and ours reach the program. */
  bytes: Uint8Array;
  unmap(): void;
}

/**
 * Maps value 0 of a one-entry BPF_F_MMAPABLE array of `size` bytes; `writable` false for
 * a frozen map (.rodata), which the kernel lets map read-only only.
 */
export const mapArrayValue = sys(
  "mapArrayValue",
  function mapArrayValue(fd: number, size: number, writable: boolean): ValueMapping {
    const c = libcMmap();
    const k = koffi();
    const len = Math.max(c.pageSize, Math.ceil(size / c.pageSize) * c.pageSize);
    const p = c.mmap(null, len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    if (!p || BigInt(k.address(p as never) as unknown as bigint) === 0xffffffffffffffffn)
      throw new NativeError("cannot map the global data", k.errno() || 22, "mmap");
    let mapped = true;
    return {
      bytes: new Uint8Array(k.view(p as never, len) as ArrayBuffer, 0, size),
      unmap() {
        if (!mapped) return;
        mapped = false;
        c.munmap(p, len);
      },
    };
  },
);
