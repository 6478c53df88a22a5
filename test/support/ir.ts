// Hand-built IR for tests: the prologue every packet-parsing XDP function starts with.
import { Builder } from "../../compiler/ir/builder.ts";
import type { VReg } from "../../compiler/ir/ir.ts";

/** A builder for `name(ctx)` that has already loaded ctx->data and ctx->data_end. */
export function xdpFunc(name: string): { b: Builder; ctx: VReg; data: VReg; end: VReg } {
  const b = new Builder(name);
  const ctx = b.param("ctx", "ctx");
  const data = b.load(4, ctx, 0, "pkt");
  const end = b.load(4, ctx, 4, "pktEnd");
  return { b, ctx, data, end };
}
