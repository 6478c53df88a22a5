import { expect, it } from "vitest";
import { existsSync, readdirSync } from "node:fs";
import { describeKernel } from "../support/kernel.ts";
import { closeFd, loadRawProgram } from "../../native/bpf.ts";
import { mapLookup, mapUpdate } from "../../native/object.ts";
import {
  FdLeakError,
  assertNoFdLeaks,
  checkFdLeaks,
  leakedFds,
  loadXdpObject,
  openFds,
  runXdp,
  verdictHistogram,
  verdictName,
} from "../support/xdp.ts";
import { compileBpfC } from "../differential/clang.ts";
import { tcp4, udp4 } from "../../runtime/packets/build.ts";

/** r0 = n; exit */
const retProg = (n: number) =>
  new Uint8Array([0xb7, 0, 0, 0, n, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

const C_PINNED = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __type(key, __u32);
  __type(value, __u64);
} xdpc_test_counter SEC(".maps");
SEC("xdp")
int count_and_pass(struct xdp_md *ctx) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&xdpc_test_counter, &k);
  if (v) *v += 1;
  /* Write the first byte so output data differs from input. */
  unsigned char *d = (void *)(long)ctx->data;
  if ((void *)(d + 1) <= (void *)(long)ctx->data_end) d[0] = 0xee;
  return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`;

describeKernel("xdp test wrapper", () => {
  checkFdLeaks("each");

  it("names verdicts", () => {
    expect([0, 1, 2, 3, 4, 9].map(verdictName)).toEqual([
      "XDP_ABORTED",
      "XDP_DROP",
      "XDP_PASS",
      "XDP_TX",
      "XDP_REDIRECT",
      "XDP_9",
    ]);
  });

  it("runs a program over packets and returns verdicts and data; refused packets are reported", () => {
    const { fd } = loadRawProgram(retProg(1));
    try {
      const pkts = [udp4(), tcp4(), new Uint8Array(10)];
      const r = runXdp(fd, pkts);
      expect(r.map((x) => x.name)).toEqual(["XDP_DROP", "XDP_DROP", "error:EINVAL"]);
      expect(r[0]!.data).toEqual(pkts[0]);
      expect(verdictHistogram(r)).toEqual({ XDP_DROP: 2, "error:EINVAL": 1 });
    } finally {
      closeFd(fd);
    }
  });

  it("loads an object with a pinned map in a private bpffs directory, isolated from a second copy", () => {
    const bytes = compileBpfC({ source: C_PINNED });
    const a = loadXdpObject(bytes);
    const b = loadXdpObject(bytes);
    const pinDirs = () =>
      readdirSync("/sys/fs/bpf").filter((n) => n.startsWith(`xdpc-test-${process.pid}-`));
    try {
      expect(pinDirs().length).toBe(2);
      const r = runXdp(a.programFd(), [udp4(), udp4()]);
      expect(r.map((x) => x.name)).toEqual(["XDP_PASS", "XDP_PASS"]);
      expect(r[0]!.data[0]).toBe(0xee);
      const key = new Uint8Array(4);
      const count = (o: typeof a) =>
        new DataView(mapLookup(o.mapFd("xdpc_test_counter"), key, 8)!.buffer).getBigUint64(0, true);
      expect(count(a)).toBe(2n);
      expect(count(b)).toBe(0n);
      mapUpdate(b.mapFd("xdpc_test_counter"), key, new Uint8Array(8).fill(1));
      expect(count(a)).toBe(2n);
    } finally {
      a.close();
      b.close();
    }
    expect(pinDirs()).toEqual([]);
    expect(existsSync("/sys/fs/bpf/xdpc_test_counter")).toBe(false);
  });

  it("the leak check sees a program fd left open, and is satisfied once it is closed", () => {
    const before = openFds();
    const { fd } = loadRawProgram(retProg(2));
    const leaks = leakedFds(before);
    expect(leaks).toEqual([expect.stringMatching(new RegExp(`^fd ${fd} -> anon_inode:bpf-prog`))]);
    expect(() => assertNoFdLeaks(before)).toThrow(FdLeakError);
    closeFd(fd);
    expect(() => assertNoFdLeaks(before)).not.toThrow();
  });

  it("a rejected object load closes what it opened", () => {
    // Writes the packet without the bounds check: the verifier must refuse it.
    const bad = compileBpfC({
      source: C_PINNED.replace("if ((void *)(d + 1) <= (void *)(long)ctx->data_end) ", ""),
    });
    expect(() => loadXdpObject(bad)).toThrow(/invalid access to packet/);
    expect(
      readdirSync("/sys/fs/bpf").filter((n) => n.startsWith(`xdpc-test-${process.pid}-`)),
    ).toEqual([]);
  });
});
