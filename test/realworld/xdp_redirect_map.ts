/**
 * xdp_redirect_map — port of the Linux sample samples/bpf/xdp_redirect_map.bpf.c with the
 * rx_cnt map and MAC swap of xdp_sample.bpf.h / xdp_sample_shared.h (see README.md):
 * count the frame in this CPU's record, swap the MACs and redirect through slot 0 of a
 * DevMap. Ported: the `general` program (a DevMap of plain ifindexes) and the dummy
 * program. Not ported: `xdp_redirect_map_native` (its DevMap holds `struct
 * bpf_devmap_val`, which DevMap does not declare) and the `xdp_devmap/egress` program
 * (the language has only XDP programs).
 */
import type { XdpContext, XdpAction, FixedArray, u64 } from "xdpc";
import { XDP_ABORTED, XDP_DROP, XDP_PASS, ArrayMap, DevMap, cpuId } from "xdpc";

/** struct datarec, aligned to 64 bytes as the original declares it. */
interface DataRec {
  processed: u64;
  dropped: u64;
  issue: u64;
  xdpPass: u64;
  xdpDrop: u64;
  xdpRedirect: u64;
  pad: FixedArray<u64, 2>;
}

const rx_cnt = new ArrayMap<DataRec>({ maxEntries: 64 });
const tx_port_general = new DevMap({ maxEntries: 1 });

export function xdp_redirect_map_general(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  if (eth === null) return XDP_DROP;
  const rec = rx_cnt.lookup(cpuId());
  if (rec === null) return XDP_PASS;
  rec.processed = rec.processed + 1;
  const d = eth.dst;
  eth.dst = eth.src;
  eth.src = d;
  return tx_port_general.redirect(0, XDP_ABORTED);
}

export function xdp_redirect_dummy_prog(ctx: XdpContext): XdpAction {
  return XDP_PASS;
}
