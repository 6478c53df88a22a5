// BPF_PROG_TEST_RUN for tc programs (BPF_PROG_TYPE_SCHED_CLS): the packet goes in as an
// skb on the loopback device with a zeroed struct __sk_buff context; what comes back
// is the verdict, the packet, and the context fields the program may write.
import { testRun } from "../../native/bpf.ts";
import { NativeError } from "../../native/lib.ts";
import { SK_BUFF, TC_ACT } from "../../compiler/uapi/bpf.ts";
import type { XdpResult } from "./xdp.ts";

/** sizeof(struct __sk_buff): the kernel returns ENOSPC for a shorter ctx_out. */
const CTX_SIZE = 192;

const names = new Map<number, string>();
for (const [n, v] of Object.entries(TC_ACT)) if (!names.has(v)) names.set(v, n);

/** "TC_ACT_SHOT" for 2, "TC_ACT_UNSPEC" for -1, "TC_<n>" otherwise. */
export function tcVerdictName(v: number): string {
  return names.get(v) ?? `TC_${v}`;
}

/**
 * One tc test run; `verdict` is r0 as the kernel's int. `ctx` holds mark then priority (LE
 * u32s). `outSize`: the data buffer (default the packet's length and a page).
 */
export function runTc(
  fd: number,
  packet: Uint8Array,
  ctxIn?: { mark?: number; priority?: number },
  opts: { outSize?: number } = {},
): XdpResult {
  const ctx = new Uint8Array(CTX_SIZE);
  const dv = new DataView(ctx.buffer);
  dv.setUint32(SK_BUFF.mark, ctxIn?.mark ?? 0, true);
  dv.setUint32(SK_BUFF.priority, ctxIn?.priority ?? 0, true);
  try {
    const r = testRun(fd, packet, { repeat: 1, ctxIn: ctx, outSize: opts.outSize });
    const verdict = r.retval | 0;
    const out = new DataView(r.ctx!.buffer, r.ctx!.byteOffset, r.ctx!.byteLength);
    const fields = new Uint8Array(8);
    const fv = new DataView(fields.buffer);
    fv.setUint32(0, out.getUint32(SK_BUFF.mark, true), true);
    fv.setUint32(4, out.getUint32(SK_BUFF.priority, true), true);
    return { verdict, name: tcVerdictName(verdict), data: r.data, ctx: fields };
  } catch (e) {
    if (!(e instanceof NativeError)) throw e;
    return { verdict: -1000, name: `error:${e.code}`, data: new Uint8Array(0), error: e.message };
  }
}
