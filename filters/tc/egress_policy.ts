/**
 * egress_policy — a tc program that marks and prioritises traffic by policy.
 *
 * What it does: for IPv4 TCP and UDP packets it looks the destination port up in
 * `policies`. A policy either drops the packet (TC_ACT_SHOT) or sets its mark (which
 * `ip rule add fwmark …` routes by) and, when non-zero, its priority (which qdiscs
 * queue by). Packets whose DSCP is Expedited Forwarding (46) get priority `efPriority`
 * unless a policy sets one. Everything else, and every packet that is not IPv4, leaves
 * unchanged (TC_ACT_OK). Marked packets are counted per mark value.
 *
 * Maps:
 *   policies  HashMap<u16, Policy>   destination port → { mark, priority, drop }
 *   perMark   HashMap<u32, u64>      mark → packets marked with it
 *
 * Params:
 *   efPriority (u32, default 6): the priority of DSCP EF packets
 *
 * Load:  xdpc load --iface eth0 --tc egress filters/tc/egress_policy.ts
 *        xdpc map set --iface eth0 policies 443 '{"mark":2,"priority":0,"drop":0}'
 */
import {
  TcContext, TcAction, TC_ACT_OK, TC_ACT_SHOT, HashMap, param, u8, u16, u32, u64,
} from "xdpc";

interface Policy { mark: u32; priority: u32; drop: u8 }

const efPriority = param<u32>("efPriority", 6);
const DSCP_EF = 46;

const policies = new HashMap<u16, Policy>({ maxEntries: 1024 });
const perMark = new HashMap<u32, u64>({ maxEntries: 256 });

export function egress_policy(ctx: TcContext): TcAction {
  const ip = ctx.ipv4();
  if (ip === null) return TC_ACT_OK;
  if (ip.tos >> 2 === DSCP_EF) ctx.priority = efPriority;

  let port: u16 = 0;
  const tcp = ctx.tcp();
  if (tcp !== null) port = tcp.dstPort;
  else {
    const udp = ctx.udp();
    if (udp !== null) port = udp.dstPort;
  }
  if (port === 0) return TC_ACT_OK;

  const p = policies.lookup(port);
  if (p === null) return TC_ACT_OK;
  if (p.drop !== 0) return TC_ACT_SHOT;
  ctx.mark = p.mark;
  if (p.priority !== 0) ctx.priority = p.priority;
  const n = perMark.lookup(p.mark);
  if (n === null) perMark.update(p.mark, 1);
  else perMark.update(p.mark, n + 1);
  return TC_ACT_OK;
}
