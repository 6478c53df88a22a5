// The real-world ports (README.md) as the differential tests and the bench run them:
// each port's programs and the map contents both sides start from.
import { mapUpdate, possibleCpus } from "../../native/object.ts";
import type { XdpObject } from "../support/xdp.ts";

const le32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);

/**
 * Sets map[key] = value; on a per-CPU map, CPU 0's value (others zero): the runs are on
 * one CPU, the lowest allowed, and the host has one CPU whose value the dump compares
 * with the kernel's sum over CPUs.
 */
export type Put = (map: string, key: Uint8Array, value: Uint8Array, perCpu?: boolean) => void;
export const kernelPut =
  (o: XdpObject): Put =>
  (m, k, v, perCpu) => {
    if (!perCpu) return mapUpdate(o.mapFd(m), k, v);
    const all = new Uint8Array(v.length * possibleCpus());
    all.set(v, 0);
    mapUpdate(o.mapFd(m), k, all);
  };

export interface Port {
  name: string;
  programs: string[];
  /** Map contents both sides (and the Wasm host) start from. */
  setup?: (put: Put) => void;
}

/** xdp_tx_iptunnel's `struct vip` (24 bytes): daddr (network order), dport (network order), family, protocol. */
function vipKey(daddr: number[], dport: number, family: number, protocol: number) {
  const k = new Uint8Array(24);
  k.set(daddr, 0);
  k.set([dport >> 8, dport & 0xff], 16);
  k.set(le32(family).subarray(0, 2), 18);
  k[20] = protocol;
  return k;
}

/** Its `struct iptnl_info` (40 bytes): saddr, daddr, family, dmac. */
function tunnel(saddr: number[], daddr: number[], family: number) {
  const v = new Uint8Array(40);
  v.set(saddr, 0);
  v.set(daddr, 16);
  v.set(le32(family).subarray(0, 2), 32);
  v.set([2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee], 34);
  return v;
}

const v6 = (last: number) => [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last];

export const ports: Port[] = [
  { name: "xdp1", programs: ["xdp_prog1"] },
  {
    name: "xdp_tx_iptunnel",
    programs: ["_xdp_tx_iptunnel"],
    // The crafted UDP frames' destinations (198.19.0.1 and 2001:db8::2, port 53) are
    // tunnelled, the TCP one (port 80) is a v4 key pointing at a v6 tunnel (PASS).
    setup: (o) => {
      const fd = "vip2tnl";
      const pad = (a: number[]) => [...a, ...new Array(16 - a.length).fill(0)];
      o(
        fd,
        vipKey(pad([198, 19, 0, 1]), 53, 2, 17),
        tunnel(pad([198, 18, 9, 1]), pad([198, 18, 9, 2]), 2),
      );
      o(fd, vipKey(v6(2), 53, 10, 17), tunnel(v6(0x11), v6(0x12), 10));
      o(fd, vipKey(pad([198, 19, 0, 1]), 80, 2, 6), tunnel(v6(0x11), v6(0x12), 10));
    },
  },
  { name: "xdp2", programs: ["xdp_prog1"] },
  {
    name: "xdp_rxq_info",
    programs: ["xdp_prognum0"],
    // Test runs arrive on lo (ifindex 1), queue 0: action XDP_TX, the EtherType read.
    setup: (o) => o("config_map", le32(0), Uint8Array.from([...le32(3), ...le32(1), ...le32(1)])),
  },
  { name: "basic04", programs: ["xdp_pass_func", "xdp_drop_func", "xdp_abort_func"] },
  {
    name: "xdp_filter",
    programs: ["xdpfilt_alw_all", "xdpfilt_dny_all"],
    // UDP to port 53 and IPv6 to 2001:db8::2 hit; TCP port 80 and 198.19.0.1 are set
    // with the other direction's flag only (a miss); one MAC no crafted frame has.
    setup: (o) => {
      const u64 = (n: number) => new Uint8Array(new BigUint64Array([BigInt(n)]).buffer);
      o("filter_ports", le32(0x3500), u64(2 | 8), true);
      o("filter_ports", le32(0x5000), u64(1 | 4), true);
      o("filter_ipv4", Uint8Array.of(198, 19, 0, 1), u64(1), true);
      o("filter_ipv6", Uint8Array.from(v6(2)), u64(2), true);
      o("filter_ethernet", Uint8Array.of(2, 0, 0, 0, 0, 9), u64(2), true);
    },
  },
  {
    name: "xdp_redirect_map",
    programs: ["xdp_redirect_map_general", "xdp_redirect_dummy_prog"],
    setup: (o) => o("tx_port_general", le32(0), le32(1)),
  },
  {
    name: "xdp_forward",
    programs: ["xdp_fwd_fib_full", "xdp_fwd_fib_direct"],
    setup: (o) => o("xdp_tx_ports", le32(1), le32(1)),
  },
  {
    name: "packet02",
    programs: ["xdp_patch_ports_func", "xdp_vlan_swap_func", "xdp_pass_func"],
  },
  {
    name: "packet03",
    programs: [
      "xdp_icmp_echo_func",
      "xdp_redirect_func",
      "xdp_redirect_map_func",
      "xdp_router_func",
      "xdp_pass_func",
    ],
    // The crafted frames' source MAC maps to a new destination; slot 0 of tx_port is lo.
    setup: (o) => {
      const src = Uint8Array.of(2, 0, 0, 0, 0, 1);
      o("redirect_params", src, Uint8Array.of(2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee));
      o("tx_port", le32(0), le32(1));
    },
  },
  { name: "xdp_adjust_tail", programs: ["xdp_icmp"] },
  {
    name: "xdp_fwd",
    programs: ["xdp_fwd", "xdp_fwd_direct"],
    // Every egress index configured, to lo: the "is it a TX port" lookup then succeeds.
    setup: (o) => {
      for (let i = 0; i < 64; i++) o("xdp_tx_ports", le32(i), le32(1));
    },
  },
];
