/**
 * vlan_filter — per-VLAN admission with a blocklist of TCP/UDP destination ports.
 *
 * What it does: frames tagged with the VLAN id `vid` (the outer 802.1Q/802.1ad tag) are
 * admitted; TCP and UDP datagrams on it whose destination port is in `blockedPorts` are
 * dropped. Frames tagged with any other VLAN are dropped. Untagged frames pass when
 * `allowUntagged` is true (the default) and are dropped otherwise; port rules apply to them too.
 * Every frame is counted by VLAN id (0 for untagged), dropped frames separately.
 *
 * Maps:
 *   blockedPorts  HashMap<u16, u8>      destination port → 1 (any value blocks)
 *   perVlan       PerCpuArray<VlanStats> VLAN id (0..4095) → { passed, dropped }
 *
 * Params:
 *   vid           (u16, default 100): the admitted VLAN id
 *   allowUntagged (bool, default true): whether untagged frames are admitted
 *
 * Load:  xdpc load --iface eth0 --set vid=42 --set allowUntagged=false filters/vlan_filter.ts
 *        xdpc map update blockedPorts 23 1          # no telnet on the VLAN
 */
import {
  XdpContext, XdpAction, XDP_PASS, XDP_DROP, HashMap, PerCpuArray, param, u8, u16, u64, bool,
} from "xdpc";

interface VlanStats { passed: u64; dropped: u64 }

const vid = param<u16>("vid", 100);
const allowUntagged = param<bool>("allowUntagged", true);

const blockedPorts = new HashMap<u16, u8>({ maxEntries: 1024 });
const perVlan = new PerCpuArray<VlanStats>({ maxEntries: 4096 });

function account(vlan: u16, pass: bool): XdpAction {
  const s = perVlan.lookup(vlan);
  if (s !== null) {
    if (pass) s.passed += 1;
    else s.dropped += 1;
  }
  return pass ? XDP_PASS : XDP_DROP;
}

/** The destination port of a TCP or UDP packet, or 0 when it is neither. */
function dstPort(ctx: XdpContext): u16 {
  const tcp = ctx.tcp();
  if (tcp !== null) return tcp.dstPort;
  const udp = ctx.udp();
  if (udp !== null) return udp.dstPort;
  return 0;
}

export function vlan_filter(ctx: XdpContext): XdpAction {
  const tag = ctx.vlan();
  let id: u16 = 0;
  if (tag !== null) {
    id = tag.vid;
    if (id !== vid) return account(id, false);
  } else if (!allowUntagged) {
    return account(0, false);
  }

  const port = dstPort(ctx);
  if (port !== 0 && blockedPorts.lookup(port) !== null) return account(id, false);
  return account(id, true);
}
