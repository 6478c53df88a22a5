import { expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import { closeFd, loadRawProgram, testRun } from "../../native/bpf.ts";
import { NativeError } from "../../native/lib.ts";

describeKernel("native bpf: raw load and BPF_PROG_TEST_RUN", () => {
  it("runs r0 = XDP_PASS and returns the packet unchanged", () => {
    const { fd } = loadRawProgram(
      new Uint8Array([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]),
    );
    try {
      const pkt = Uint8Array.from({ length: 60 }, (_, i) => i);
      const r = testRun(fd, pkt);
      expect(r.retval).toBe(2);
      expect([...r.data]).toEqual([...pkt]);
    } finally {
      closeFd(fd);
    }
  });

  it("reports a verifier rejection with the verifier's log", () => {
    let err: unknown;
    try {
      loadRawProgram(new Uint8Array([0x95, 0, 0, 0, 0, 0, 0, 0]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NativeError);
    expect((err as NativeError).code).toBe("EACCES");
    expect((err as Error).message).toContain("R0 !read_ok");
  });
});
