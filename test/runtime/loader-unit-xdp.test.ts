// native/xdp.ts and runtime/sys/lock.ts against a fake libbpf/libc (no kernel, no
// privileges): the flags and opts the XDP calls pass down — a replace must carry
// XDP_FLAGS_REPLACE and the old program's fd, or the kernel would swap whatever runs —
// errno → NativeError, and the lock's refusal when flock(2) says another holds it.
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const fake = vi.hoisted(() => ({
  calls: [] as { fn: string; args: unknown[] }[],
  ret: 0,
  errno: 0,
  /** What bpf_xdp_query writes into its opts (libbpf fills them through the pointer). */
  query: {} as Record<string, number>,
}));

vi.mock("../../native/lib.ts", async () => {
  const actual = await vi.importActual<typeof import("../../native/lib.ts")>("../../native/lib.ts");
  const koffi = {
    struct: (name: string) => ({ name }),
    sizeof: () => 24,
    errno: () => fake.errno,
  };
  return {
    ...actual,
    koffi: () => koffi,
    library: () => ({
      func: (sig: string) => {
        const fn = /(\w+)\(/.exec(sig)![1]!;
        return (...args: unknown[]) => {
          fake.calls.push({
            fn,
            args: fn === "bpf_xdp_query" ? [...args.slice(0, 2), { ...(args[2] as object) }] : args,
          });
          if (fn === "bpf_xdp_query") Object.assign(args[2] as object, fake.query);
          return fake.ret;
        };
      },
    }),
  };
});

const xdp = await import("../../native/xdp.ts");
const { NativeError } = await import("../../native/lib.ts");
const { tryLock } = await import("../../runtime/sys/lock.ts");

beforeEach(() => {
  fake.calls.length = 0;
  fake.ret = 0;
  fake.errno = 0;
  fake.query = {};
});

describe("native/xdp.ts (fake libbpf)", () => {
  it("a first attach passes the caller's flags and no opts", () => {
    xdp.xdpAttach(3, 10, xdp.XDP_FLAGS_DRV_MODE | xdp.XDP_FLAGS_UPDATE_IF_NOEXIST);
    expect(fake.calls).toEqual([
      {
        fn: "bpf_xdp_attach",
        args: [3, 10, xdp.XDP_FLAGS_DRV_MODE | xdp.XDP_FLAGS_UPDATE_IF_NOEXIST, null],
      },
    ]);
  });

  it("a replace adds XDP_FLAGS_REPLACE and the old program's fd in sized opts", () => {
    xdp.xdpAttach(3, 10, xdp.XDP_FLAGS_SKB_MODE, 9);
    expect(fake.calls).toEqual([
      {
        fn: "bpf_xdp_attach",
        args: [3, 10, xdp.XDP_FLAGS_SKB_MODE | xdp.XDP_FLAGS_REPLACE, { sz: 24, old_prog_fd: 9 }],
      },
    ]);
  });

  it("a detach by fd only removes that program (REPLACE + old fd)", () => {
    xdp.xdpDetach(3, xdp.XDP_FLAGS_DRV_MODE, 12);
    expect(fake.calls[0]!.args).toEqual([
      3,
      xdp.XDP_FLAGS_DRV_MODE | xdp.XDP_FLAGS_REPLACE,
      { sz: 24, old_prog_fd: 12 },
    ]);
  });

  it("a negative return becomes a NativeError with the errno's name", () => {
    fake.ret = -95;
    let err: unknown;
    try {
      xdp.xdpAttach(3, 10, xdp.XDP_FLAGS_DRV_MODE);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NativeError);
    expect((err as InstanceType<typeof NativeError>).code).toBe("EOPNOTSUPP");
    expect((err as Error).message).toBe(
      "cannot attach the XDP program: operation not supported by this driver or kernel [EOPNOTSUPP]",
    );
  });

  it("a query reads the ids the kernel filled in", () => {
    fake.query = { prog_id: 0, drv_prog_id: 0, skb_prog_id: 55, attach_mode: 2 };
    const q = xdp.xdpQuery(4);
    expect(fake.calls[0]).toEqual({
      fn: "bpf_xdp_query",
      args: [
        4,
        0,
        { sz: 24, prog_id: 0, drv_prog_id: 0, hw_prog_id: 0, skb_prog_id: 0, attach_mode: 0 },
      ],
    });
    expect(q).toEqual({ progId: 0, drvProgId: 0, skbProgId: 55, hwProgId: 0, attachMode: 2 });
  });
});

describe("runtime/sys/lock.ts (fake flock)", () => {
  const dir = mkdtempSync(join(tmpdir(), "xdpct-lock-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("takes the lock with a non-blocking exclusive flock and writes its pid", () => {
    const r = tryLock(dir, "eth9");
    expect("lock" in r).toBe(true);
    expect(fake.calls[0]).toMatchObject({ fn: "flock", args: [expect.any(Number), 2 | 4] });
    expect(readFileSync(join(dir, "eth9.lock"), "utf8")).toBe(`${process.pid}\n`);
    if ("lock" in r) r.lock.release();
    expect(fake.calls[1]).toMatchObject({ fn: "flock", args: [expect.any(Number), 8] });
  });

  it("is busy when flock says EWOULDBLOCK, naming the holder's pid, and keeps the file", () => {
    writeFileSync(join(dir, "eth8.lock"), "4242\n");
    fake.ret = -1;
    fake.errno = 11;
    expect(tryLock(dir, "eth8")).toEqual({ busy: true, holder: 4242 });
    expect(readFileSync(join(dir, "eth8.lock"), "utf8")).toBe("4242\n");
  });

  it("any other flock failure is an error, not a busy lock", () => {
    fake.ret = -1;
    fake.errno = 9;
    expect(() => tryLock(dir, "eth7")).toThrow(/cannot lock.*EBADF/);
  });
});
