// runtime/xsk/sockets.ts (XskSet) against the fake kernel of support/fakesys.ts: socket
// setup and its errors without privileges or a NIC — one socket per queue sharing the
// first one's UMEM, the EBUSY retry while a closed socket's queue is being released, a
// queue taken for good, a missing queue, ring sizes that are not powers of two, no
// zero-copy, the memlock limit — and after every failure nothing is left open or mapped.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NativeError } from "../../native/lib.ts";
import {
  XDP_COPY,
  XDP_RX_RING,
  XDP_SHARED_UMEM,
  XDP_TX_RING,
  XDP_UMEM_COMPLETION_RING,
  XDP_UMEM_FILL_RING,
  XDP_USE_NEED_WAKEUP,
  XDP_ZEROCOPY,
} from "../../native/xsk.ts";
import { probeOffsets, XskError, XskSet, type XskOptions } from "../../runtime/xsk/sockets.ts";
import { FakeKernel } from "../support/fakesys.ts";

const IFINDEX = 7;
let kernel: FakeKernel;
let restore: () => void;
beforeEach(() => {
  kernel = new FakeKernel();
  kernel.links.set("xt0", IFINDEX);
  kernel.rxQueues.set(IFINDEX, 2);
  restore = kernel.install();
});
afterEach(() => restore());

const options = (o: Partial<XskOptions> = {}): XskOptions => ({
  ifname: "xt0",
  ifindex: IFINDEX,
  queues: [0],
  ringSize: 64,
  frameSize: 2048,
  ...o,
});

/** Opens a set over a memory sized for it, as runtime/xsk/run.ts does. */
function open(set: XskSet): WebAssembly.Memory {
  const off = probeOffsets();
  const pages = XskSet.pagesFor(set.footprint(off, 0).end);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  set.open(memory, off, 0);
  return memory;
}

/** Nothing open, nothing mapped: what every failure and every close must leave. */
function expectClean() {
  expect(kernel.openFds()).toEqual([]);
  expect([...kernel.mapped]).toEqual([]);
}

describe("XskSet on the fake kernel", () => {
  it("opens one socket per queue, the second sharing the first one's UMEM", () => {
    const set = new XskSet(options({ queues: [0, 1] }));
    open(set);
    expect(set.sockets.map((s) => s.queue)).toEqual([0, 1]);
    const [a, b] = set.sockets.map((s) => kernel.xsks.get(s.fd)!);
    expect(a!.umem).toMatchObject({ addr: 0x7f0000000000n + BigInt(set.layout!.umem) });
    expect(a!.umem!.len).toBe(2 * 128 * 2048);
    expect(b!.umem).toBeUndefined();
    for (const x of [a!, b!])
      expect(Object.fromEntries(x.rings)).toEqual({
        [XDP_RX_RING]: 64,
        [XDP_TX_RING]: 64,
        [XDP_UMEM_FILL_RING]: 64,
        [XDP_UMEM_COMPLETION_RING]: 64,
      });
    expect(kernel.mapped.size).toBe(8);
    // auto: zero-copy first, refused by this driver, then copy; the second socket shares.
    expect(kernel.binds.map((b) => [b.queue, b.flags, b.errno])).toEqual([
      [0, XDP_ZEROCOPY | XDP_USE_NEED_WAKEUP, 95],
      [0, XDP_COPY | XDP_USE_NEED_WAKEUP, 0],
      [1, XDP_SHARED_UMEM, 0],
    ]);
    expect(set.sockets.map((s) => s.zeroCopy)).toEqual([false, false]);
    set.close();
    expectClean();
    set.close(); // idempotent
  });

  it("binds zero-copy where the driver has it", () => {
    kernel.zeroCopy.add(IFINDEX);
    const set = new XskSet(options({ queues: [0, 1], mode: "zerocopy" }));
    open(set);
    expect(set.sockets.map((s) => s.zeroCopy)).toEqual([true, true]);
    set.close();
    expectClean();
  });

  it("retries a bind while the queue of a just-closed socket is being released", () => {
    kernel.releaseDelay = 3;
    const first = new XskSet(options({ mode: "copy" }));
    open(first);
    first.close();
    const again = new XskSet(options({ mode: "copy" }));
    open(again);
    expect(kernel.binds.slice(1).map((b) => b.errno)).toEqual([16, 16, 16, 0]);
    expect(again.sockets).toHaveLength(1);
    again.close();
  });

  it("reports a queue another socket holds, after the retries, and closes what it opened", () => {
    const holder = new XskSet(options({ mode: "copy" }));
    open(holder);
    const fds = kernel.openFds();
    const second = new XskSet(options({ mode: "copy" }));
    expect(() => open(second)).toThrow(
      new XskError(
        "queue 0 of 'xt0' already has an AF_XDP socket (another xdpc run or AF_XDP program) [EBUSY]",
      ),
    );
    const tries = kernel.binds.filter((b) => b.errno === 16).length;
    expect(tries).toBeGreaterThan(1);
    expect(kernel.openFds()).toEqual(fds);
    expect(second.sockets).toEqual([]);
    holder.close();
    expectClean();
  });

  it("refuses a queue the interface does not have before opening anything", () => {
    expect(() => new XskSet(options({ queues: [0, 3] }))).toThrow(
      new XskError("queue 3 does not exist on 'xt0' (it has 2 receive queues)"),
    );
    expectClean();
  });

  it("when sysfs cannot tell the queues, the kernel's refusal of the bind is the error", () => {
    kernel.rxQueues.delete(IFINDEX); // the device has one queue; sysfs shows another namespace
    const set = new XskSet(options({ queues: [0, 1], mode: "copy" }));
    let err: unknown;
    try {
      open(set);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NativeError);
    expect((err as NativeError).code).toBe("EINVAL");
    expect((err as NativeError).what).toBe("cannot bind the AF_XDP socket to queue 1");
    expectClean();
  });

  it("checks ring and frame sizes before any syscall", () => {
    for (const [o, msg] of [
      [{ ringSize: 1000 }, "ring size 1000 is not a power of two between 64 and 65536"],
      [{ ringSize: 32 }, "ring size 32 is not a power of two between 64 and 65536"],
      [{ frameSize: 3000 }, "frame size 3000 must be 2048 or 4096"],
      [{ frames: 10 }, "10 UMEM frames per queue is fewer than the ring size 64"],
      [{ queues: [] }, "no queues to open AF_XDP sockets on"],
    ] as const)
      expect(() => new XskSet(options(o))).toThrow(new XskError(msg));
    expect(kernel.binds).toEqual([]);
    expectClean();
  });

  it("says which mode or limit stood in the way", () => {
    expect(() => open(new XskSet(options({ mode: "zerocopy" })))).toThrow(
      new XskError(
        "'xt0' does not support AF_XDP zero-copy (its driver lacks it); use --xsk-mode copy or auto",
      ),
    );
    expectClean();
    kernel.down.add(IFINDEX);
    expect(() => open(new XskSet(options()))).toThrow(
      new XskError("'xt0' is down; bring it up before opening AF_XDP sockets"),
    );
    expectClean();
    kernel.down.clear();
    kernel.memlock = 64 * 1024;
    expect(() => open(new XskSet(options({ ringSize: 512, frameSize: 4096 })))).toThrow(
      /^cannot register 4 MiB of AF_XDP UMEM: RLIMIT_MEMLOCK is too low .*\[ENOBUFS\]$/,
    );
    expectClean();
  });
});
