/**
 * xdp_rxq_info — port of the Linux sample samples/bpf/xdp_rxq_info_kern.c (see
 * README.md): count every frame globally and per receive queue (queues past 63 share
 * the last slot, counted as an issue), check that the ingress ifindex is the configured
 * one, optionally read the EtherType (dropping — XDP_ABORTED — frames whose type field is
 * an 802.3 length), and return the configured action.
 */
import type { XdpContext, XdpAction, i32, u32, u64 } from "xdpc";
import { XDP_ABORTED, ArrayMap, PerCpuArray } from "xdpc";

interface Config {
  action: u32;
  ifindex: i32;
  options: u32;
}
interface DataRec {
  processed: u64;
  issue: u64;
}

const READ_MEM = 0x1;
const MAX_RXQS = 64;
const ETH_P_802_3_MIN = 0x0600;

const config_map = new ArrayMap<Config>({ maxEntries: 1 });
const stats_global_map = new PerCpuArray<DataRec>({ maxEntries: 1 });
const rx_queue_index_map = new PerCpuArray<DataRec>({ maxEntries: MAX_RXQS + 1 });

export function xdp_prognum0(ctx: XdpContext): XdpAction {
  const rec = stats_global_map.lookup(0);
  if (rec === null) return XDP_ABORTED;
  rec.processed += 1;
  const ingress = ctx.ifindex as i32;
  const config = config_map.lookup(0);
  if (config === null) return XDP_ABORTED;
  if (ingress !== config.ifindex) {
    rec.issue += 1;
    return XDP_ABORTED;
  }
  let key = ctx.rxQueue;
  if (key >= MAX_RXQS) key = MAX_RXQS;
  const rxq = rx_queue_index_map.lookup(key);
  if (rxq === null) return XDP_ABORTED;
  rxq.processed += 1;
  if (key === MAX_RXQS) rxq.issue += 1;
  if (config.options & READ_MEM) {
    const eth = ctx.eth();
    if (eth === null) return XDP_ABORTED;
    if (eth.proto < ETH_P_802_3_MIN) return XDP_ABORTED;
  }
  return config.action;
}
