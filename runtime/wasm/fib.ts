// bpf_fib_lookup for the Wasm host, over a route table it is given instead of the
// kernel's FIB: the kernel's bpf_ipv4_fib_lookup and bpf_ipv6_fib_lookup
// (net/core/filter.c) with the default policy rules. IPv4: the local and main tables
// looked up as one (the kernel merges them while no `ip rule` is added), then the
// default table; longest prefix first, then the lowest metric; blackhole/unreachable/
// prohibit as their BPF_FIB_LKUP_RET_* codes, any other non-unicast route (local,
// broadcast) NOT_FWDED. IPv6: link-local, loopback and multicast addresses are never
// forwarded; the local table, then main (IPv6's default rules have no default table),
// each a longest-prefix match whose lowest-metric routes are tried with a preference for
// the lookup's device. Then the egress device's MTU, the next hop's neighbour entry for
// the MACs, and with BPF_FIB_LOOKUP_SRC the source address the kernel would pick. The
// table's fields are those `ip -j` prints, so `ip -j addr`, `ip -j route show table all`
// and `ip -j neigh` of a namespace make one (runtime/lab/routes.ts does that).

/** An address of an interface: `ip -j addr`'s addr_info fields. */
export interface InterfaceAddress {
  /** "inet" or "inet6" (default: from `local`). */
  family?: string;
  local: string;
  prefixlen: number;
  /** "global" (default), "site", "link", "host" or a number. */
  scope?: string | number;
  /** IPv4: a secondary address (never chosen as a source). */
  secondary?: boolean;
  /** IPv6: tentative (DAD not done: not a source unless optimistic), deprecated, … */
  tentative?: boolean;
  optimistic?: boolean;
  deprecated?: boolean;
  dadfailed?: boolean;
  temporary?: boolean;
}

/** An interface: `ip -j link` fields, plus whether IPv4 forwarding is on (default true). */
export interface RouteInterface {
  ifindex: number;
  ifname?: string;
  /** The MAC address (the FIB's smac when this is the egress device). */
  address: string;
  /** Default 1500. */
  mtu?: number;
  /** net.ipv4.conf.<dev>.forwarding (default true). */
  forwarding?: boolean;
  /** net.ipv6.conf.<dev>.forwarding (default true; false where the device has no IPv6). */
  forwarding6?: boolean;
  /** net.ipv6.conf.<dev>.mtu (default `mtu`): the IPv6 lookup's MTU. */
  mtu6?: number;
  /** net.ipv6.conf.<dev>.use_oif_addrs_only: IPv6 sources out of it only from its own addresses. */
  use_oif_addrs_only?: boolean;
  /** The interface's addresses (`ip -j addr`'s addr_info), for BPF_FIB_LOOKUP_SRC. */
  addr_info?: InterfaceAddress[];
}

/** A route: `ip -j route` fields. */
export interface Route {
  /** "198.19.46.4/30", "198.19.46.1" (a /32), "2001:2::/64" or "default". */
  dst: string;
  /** "inet6" for an IPv6 route (`ip -6`); otherwise told by dst or gateway, else IPv4. */
  family?: string;
  /** The egress device: its name (ifname) or ifindex. */
  dev?: string | number;
  /** The next hop, for a route via a gateway. */
  gateway?: string;
  /** Default "unicast". */
  type?: string;
  /** "main" (default), "local", "default" or a table number. */
  table?: string | number;
  /** Default 0. */
  metric?: number;
  /** The preferred source address (BPF_FIB_LOOKUP_SRC answers it). */
  prefsrc?: string;
  /** IPv4: "global" (default), "link", "host", … (the scope a source address must have). */
  scope?: string | number;
}

/** A neighbour entry: `ip -j neigh` fields (IPv4 or IPv6 by dst). */
export interface Neighbour {
  dst: string;
  dev: string | number;
  lladdr?: string;
  /** NUD states, e.g. ["PERMANENT"] (default ["PERMANENT"]). */
  state?: string[] | string;
}

/** What the host's fib_lookup looks up in. */
export interface RouteTable {
  interfaces: RouteInterface[];
  routes: Route[];
  neighbours?: Neighbour[];
}

/** A route table that does not parse, or one the host does not model; one line. */
export class RouteTableError extends Error {
  override name = "RouteTableError";
}

const EINVAL = 22;
const ENODEV = 19;
const EAFNOSUPPORT = 97;
const AF_INET = 2;
const AF_INET6 = 10;
export const BPF_FIB_LOOKUP = { DIRECT: 1, OUTPUT: 2, SKIP_NEIGH: 4, TBID: 8, SRC: 16, MARK: 32 };
/** Every flag the kernel accepts (others: -EINVAL). */
const FLAG_MASK = 63;
export const FIB_RET = {
  SUCCESS: 0,
  BLACKHOLE: 1,
  UNREACHABLE: 2,
  PROHIBIT: 3,
  NOT_FWDED: 4,
  FWD_DISABLED: 5,
  UNSUPP_LWT: 6,
  NO_NEIGH: 7,
  FRAG_NEEDED: 8,
  NO_SRC_ADDR: 9,
} as const;
/** The NUD states whose link-layer address is usable (NUD_VALID). */
const NUD_VALID = new Set(["PERMANENT", "NOARP", "REACHABLE", "PROBE", "STALE", "DELAY"]);
/** fib_props[type].error: the lookup fails with it where such a route matches. */
const REJECT: Record<string, number> = {
  blackhole: FIB_RET.BLACKHOLE,
  unreachable: FIB_RET.UNREACHABLE,
  prohibit: FIB_RET.PROHIBIT,
  nat: FIB_RET.BLACKHOLE,
};
const TYPES = new Set([
  "unicast",
  "local",
  "broadcast",
  "multicast",
  "anycast",
  "throw",
  ...Object.keys(REJECT),
]);
const RT_TABLE = { default: 253, main: 254, local: 255 } as Record<string, number>;
const MAIN = 254;
const LOCAL = 255;
/** Route scopes by the names iproute2 prints (rtnetlink's RT_SCOPE_*). */
const SCOPES: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254 };
/** IPV6_MIN_MTU and IP6_MAX_MTU (65535 + the 40-byte header). */
const IPV6_MIN_MTU = 1280;
const IP6_MAX_MTU = 65535 + 40;

interface Entry {
  net: number;
  len: number;
  type: string;
  /** The trie the route is in: main and local share one (local's routes say MAIN). */
  table: number;
  /** local before main where both hold the prefix (as in the kernel's merged trie). */
  local: boolean;
  metric: number;
  dev: number;
  gateway: number | null;
  prefsrc: number | null;
  scope: number;
}

interface Entry6 {
  net: bigint;
  len: number;
  type: string;
  table: number;
  metric: number;
  dev: number;
  gateway: bigint | null;
  prefsrc: bigint | null;
}

interface Addr4 {
  local: number;
  mask: number;
  scope: number;
  secondary: boolean;
}

interface Addr6 {
  addr: bigint;
  prefixlen: number;
  /** Usable as a source at all (not tentative unless optimistic, not dadfailed). */
  usable: boolean;
  /** Deprecated or optimistic: avoided (rule 3). */
  avoid: boolean;
  temporary: boolean;
}

interface Iface {
  ifindex: number;
  mac: Uint8Array;
  mtu: number;
  forwarding: boolean;
  forwarding6: boolean;
  mtu6: number;
  oifAddrsOnly: boolean;
  addrs4: Addr4[];
  addrs6: Addr6[];
}

function ipv4(s: unknown, where: string): number {
  const m = typeof s === "string" ? /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s) : null;
  const parts = m ? m.slice(1).map(Number) : [];
  if (!m || parts.some((p) => p > 255)) throw new RouteTableError(`${where}: not an IPv4 address`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** An IPv6 address (RFC 4291 text, with :: and a dotted IPv4 tail) as a 128-bit number. */
export function ipv6(s: unknown, where: string): bigint {
  const bad = () => new RouteTableError(`${where}: not an IPv6 address`);
  if (typeof s !== "string") throw bad();
  let text = s;
  let tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const n = ipv4(dotted[2], where);
    tail = [n >>> 16, n & 0xffff];
    text = dotted[1]!.endsWith("::") ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) throw bad();
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if ([...head, ...rest].some((w) => !/^[0-9a-fA-F]{1,4}$/.test(w))) throw bad();
  const n = head.length + rest.length + tail.length;
  if (halves.length === 2 ? n > 7 : n !== 8) throw bad();
  const hex = (w: string) => parseInt(w, 16);
  const words = [
    ...head.map(hex),
    ...new Array<number>(halves.length === 2 ? 8 - n : 0).fill(0),
    ...rest.map(hex),
    ...tail,
  ];
  return words.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

function macOf(s: unknown, where: string): Uint8Array {
  if (typeof s !== "string" || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(s))
    throw new RouteTableError(`${where}: not a MAC address (aa:bb:cc:dd:ee:ff)`);
  return Uint8Array.from(s.split(":").map((x) => parseInt(x, 16)));
}

const mask = (len: number) => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);
const ALL6 = (1n << 128n) - 1n;
const mask6 = (len: number) => (len === 0 ? 0n : (ALL6 << BigInt(128 - len)) & ALL6);
const inPrefix6 = (a: bigint, net: bigint, len: number) => (a & mask6(len)) === net;

function read6(p: DataView, off: number): bigint {
  let v = 0n;
  for (let i = 0; i < 16; i += 4) v = (v << 32n) | BigInt(p.getUint32(off + i, false));
  return v;
}
function write6(p: DataView, off: number, v: bigint): void {
  for (let i = 12; i >= 0; i -= 4) {
    p.setUint32(off + i, Number(v & 0xffffffffn), false);
    v >>= 32n;
  }
}

/** rt6_need_strict: multicast (ff00::/8), link-local (fe80::/10), loopback (::1). */
function needStrict(a: bigint): boolean {
  return a >> 120n === 0xffn || a >> 118n === 0x3fan || a === 1n;
}

/** __ipv6_addr_src_scope of a unicast address: node 1, link 2, site 5, global 14. */
function scope6(a: bigint): number {
  if (a === 1n) return 1;
  if (a >> 118n === 0x3fan) return 2;
  if (a >> 118n === 0x3fbn) return 5;
  return 14;
}

/** The default address label table (`ip addrlabel`, RFC 6724 §2.1 as Linux has it). */
const LABELS: [bigint, number, number][] = [
  [1n, 128, 0],
  [0xffffn << 32n, 96, 4],
  [0n, 96, 3],
  [0x20010010n << 96n, 28, 7],
  [0x20010000n << 96n, 32, 6],
  [0x2002n << 112n, 16, 2],
  [0x3ffen << 112n, 16, 12],
  [0xfec0n << 112n, 10, 11],
  [0xfc00n << 112n, 7, 5],
  [0n, 0, 1],
];
const label6 = (a: bigint) => LABELS.find(([n, l]) => inPrefix6(a, n, l))![2];
const isOrchid = (a: bigint) => inPrefix6(a, 0x20010010n << 96n, 28);
/** Leading bits two addresses share (ipv6_addr_diff). */
function commonBits(a: bigint, b: bigint): number {
  const x = a ^ b;
  return x === 0n ? 128 : 128 - x.toString(2).length;
}

function scopeOf(v: unknown, where: string): number {
  if (v === undefined) return 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 255) return v;
  if (typeof v === "string" && v in SCOPES) return SCOPES[v]!;
  if (typeof v === "string" && /^\d+$/.test(v) && Number(v) <= 255) return Number(v);
  throw new RouteTableError(`${where}: unknown scope ${JSON.stringify(v)}`);
}

function tableOf(v: unknown, where: string): number {
  const t = v ?? "main";
  if (typeof t === "string" && t in RT_TABLE) return RT_TABLE[t]!;
  const n = typeof t === "number" ? t : typeof t === "string" && /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff)
    throw new RouteTableError(
      `${where}: '${String(t)}' — a table is main, local, default or a number`,
    );
  return n;
}

const isV6 = (s: unknown) => typeof s === "string" && s.includes(":");

/** A route table checked and indexed for lookups. */
export class FibTable {
  private readonly ifaces = new Map<number, Iface>();
  /** Interfaces in the order given (the kernel's device list order). */
  private readonly order: Iface[] = [];
  /** Longest prefix first, then local first, then the lowest metric. */
  private readonly entries: Entry[] = [];
  /** Longest prefix first, then as given (the kernel's per-prefix route order). */
  private readonly entries6: Entry6[] = [];
  /** Tables that hold at least one route (others do not exist: NOT_FWDED). */
  private readonly tables4 = new Set<number>();
  private readonly tables6 = new Set<number>([MAIN, LOCAL]);
  /** "ifindex ip" (IPv6: "ifindex 6 n") → MAC, for NUD_VALID entries only. */
  private readonly neigh = new Map<string, Uint8Array>();

  constructor(table: unknown, source = "routes") {
    if (typeof table !== "object" || table === null || Array.isArray(table))
      throw new RouteTableError(`${source}: expected { interfaces, routes, neighbours }`);
    const t = table as Record<string, unknown>;
    const list = (v: unknown, k: string, required: boolean): Record<string, unknown>[] => {
      if (v === undefined && !required) return [];
      if (!Array.isArray(v)) throw new RouteTableError(`${source}: ${k} must be a list`);
      return v.map((x, i) => {
        if (typeof x !== "object" || x === null || Array.isArray(x))
          throw new RouteTableError(`${source}: ${k}[${i}] must be an object`);
        return x as Record<string, unknown>;
      });
    };
    const names = new Map<string, number>();
    list(t.interfaces, "interfaces", true).forEach((x, i) => {
      const at = `${source}: interfaces[${i}]`;
      if (!Number.isInteger(x.ifindex) || (x.ifindex as number) <= 0)
        throw new RouteTableError(`${at}.ifindex: a positive integer is required`);
      const ifindex = x.ifindex as number;
      const mtu = x.mtu ?? 1500;
      if (!Number.isInteger(mtu) || (mtu as number) < 68)
        throw new RouteTableError(`${at}.mtu: an integer ≥ 68 is required`);
      const mtu6 = x.mtu6 ?? mtu;
      if (!Number.isInteger(mtu6) || (mtu6 as number) < 0)
        throw new RouteTableError(`${at}.mtu6: a non-negative integer is required`);
      for (const k of ["forwarding", "forwarding6", "use_oif_addrs_only"])
        if (x[k] !== undefined && typeof x[k] !== "boolean")
          throw new RouteTableError(`${at}.${k}: true or false`);
      const iface: Iface = {
        ifindex,
        mac: macOf(x.address, `${at}.address`),
        mtu: Math.min(mtu as number, 0xffff),
        forwarding: x.forwarding !== false,
        forwarding6: x.forwarding6 !== false,
        mtu6: mtu6 as number,
        oifAddrsOnly: x.use_oif_addrs_only === true,
        addrs4: [],
        addrs6: [],
      };
      list(x.addr_info, `interfaces[${i}].addr_info`, false).forEach((a, j) => {
        const aat = `${at}.addr_info[${j}]`;
        const len = a.prefixlen;
        const v6 = a.family === "inet6" || (a.family === undefined && isV6(a.local));
        if (!Number.isInteger(len) || (len as number) < 0 || (len as number) > (v6 ? 128 : 32))
          throw new RouteTableError(`${aat}.prefixlen: bad prefix length`);
        if (v6) {
          iface.addrs6.push({
            addr: ipv6(a.local, `${aat}.local`),
            prefixlen: len as number,
            usable: (!a.tentative || a.optimistic === true) && !a.dadfailed,
            avoid: a.deprecated === true || a.optimistic === true,
            temporary: a.temporary === true,
          });
        } else if (a.family === undefined || a.family === "inet") {
          iface.addrs4.push({
            local: ipv4(a.local, `${aat}.local`),
            mask: mask(len as number),
            scope: scopeOf(a.scope, `${aat}.scope`),
            secondary: a.secondary === true,
          });
        }
      });
      this.ifaces.set(ifindex, iface);
      this.order.push(iface);
      if (typeof x.ifname === "string") names.set(x.ifname, ifindex);
    });
    const dev = (v: unknown, at: string): number => {
      const i = typeof v === "string" ? names.get(v) : v;
      if (typeof i !== "number" || !this.ifaces.has(i))
        throw new RouteTableError(`${at}: no interface ${JSON.stringify(v)} in interfaces`);
      return i;
    };
    list(t.routes, "routes", true).forEach((x, i) => {
      const at = `${source}: routes[${i}]`;
      const type = (x.type ?? "unicast") as string;
      if (!TYPES.has(type)) throw new RouteTableError(`${at}.type: unknown route type '${type}'`);
      const table = tableOf(x.table, `${at}.table`);
      for (const k of ["nexthops", "encap", "tos", "dsfield", "from", "nhid", "via"])
        if (x[k] !== undefined)
          throw new RouteTableError(`${at}: '${k}' routes are not modelled by the Wasm host`);
      const v6 =
        x.family === "inet6" || (x.family === undefined && (isV6(x.dst) || isV6(x.gateway)));
      const [a, l] = x.dst === "default" ? [] : typeof x.dst === "string" ? x.dst.split("/") : [""];
      const addr =
        a === undefined ? (v6 ? 0n : 0) : v6 ? ipv6(a, `${at}.dst`) : ipv4(a, `${at}.dst`);
      const len = a === undefined ? 0 : l === undefined ? (v6 ? 128 : 32) : Number(l);
      if (
        !Number.isInteger(len) ||
        len < 0 ||
        len > (v6 ? 128 : 32) ||
        (l !== undefined && !/^\d+$/.test(l))
      )
        throw new RouteTableError(`${at}.dst: bad prefix length`);
      const metric = x.metric ?? 0;
      if (!Number.isInteger(metric) || (metric as number) < 0)
        throw new RouteTableError(`${at}.metric: a non-negative integer is required`);
      // Reject and throw routes have no device; ip prints one for the others.
      const needsDev = type === "unicast";
      const devIndex = needsDev || x.dev !== undefined ? dev(x.dev, `${at}.dev`) : 0;
      if (v6) {
        this.tables6.add(table);
        this.entries6.push({
          net: (addr as bigint) & mask6(len),
          len,
          type,
          table,
          metric: metric as number,
          dev: devIndex,
          gateway: x.gateway === undefined ? null : ipv6(x.gateway, `${at}.gateway`),
          prefsrc: x.prefsrc === undefined ? null : ipv6(x.prefsrc, `${at}.prefsrc`),
        });
        return;
      }
      this.tables4.add(table);
      this.entries.push({
        net: ((addr as number) & mask(len)) >>> 0,
        len,
        type,
        table: table === LOCAL ? MAIN : table,
        local: table === LOCAL,
        metric: metric as number,
        dev: devIndex,
        gateway: x.gateway === undefined ? null : ipv4(x.gateway, `${at}.gateway`),
        prefsrc: x.prefsrc === undefined ? null : ipv4(x.prefsrc, `${at}.prefsrc`),
        scope: scopeOf(x.scope, `${at}.scope`),
      });
    });
    this.entries.sort(
      (a, b) => b.len - a.len || Number(b.local) - Number(a.local) || a.metric - b.metric,
    );
    this.entries6.sort((a, b) => b.len - a.len);
    list(t.neighbours, "neighbours", false).forEach((x, i) => {
      const at = `${source}: neighbours[${i}]`;
      const addr = isV6(x.dst) ? `6 ${ipv6(x.dst, `${at}.dst`)}` : ipv4(x.dst, `${at}.dst`);
      const states = x.state === undefined ? ["PERMANENT"] : [x.state].flat();
      if (!states.some((s) => NUD_VALID.has(String(s)))) return; // no usable address
      this.neigh.set(`${dev(x.dev, `${at}.dev`)} ${addr}`, macOf(x.lladdr, `${at}.lladdr`));
    });
  }

  /**
   * The lookup the host's fib_lookup import does: `p` is a struct bpf_fib_lookup (64
   * bytes, its network-order fields as the kernel's), read and filled in place. Returns
   * a BPF_FIB_LKUP_RET_* code or a negative errno. `skbLen` is set for a tc program (the
   * skb variant: without tot_len, the skb's length is checked against the egress MTU).
   */
  lookup(p: DataView, plen: number, flags: number, skbLen?: number): number {
    if (plen < 64) return -EINVAL;
    if (flags & ~FLAG_MASK) return -EINVAL;
    const family = p.getUint8(0);
    if (family !== AF_INET && family !== AF_INET6) return -EAFNOSUPPORT;
    const totLen = p.getUint16(6, true);
    // XDP always checks the MTU; the skb helper only when tot_len is given.
    const checkMtu = skbLen === undefined || totLen !== 0;
    const rc =
      family === AF_INET ? this.lookup4(p, flags, checkMtu) : this.lookup6(p, flags, checkMtu);
    if (rc === FIB_RET.SUCCESS && !checkMtu) {
      const dev = this.ifaces.get(p.getUint32(8, true))!;
      p.setUint16(6, dev.mtu, true);
      // is_skb_forwardable: the MTU plus an Ethernet header and one VLAN tag.
      if (skbLen! > dev.mtu + 14 + 4) return FIB_RET.FRAG_NEEDED;
    }
    return rc;
  }

  /** The table a DIRECT lookup reads: main, or params.tbid with TBID (then zeroed). */
  private directTable(p: DataView, flags: number): number {
    if (!(flags & BPF_FIB_LOOKUP.TBID)) return MAIN;
    const tbid = p.getUint32(48, true);
    p.setUint32(48, 0, true);
    return tbid === 0 ? MAIN : tbid;
  }

  private lookup4(p: DataView, flags: number, checkMtu: boolean): number {
    const ingress = this.ifaces.get(p.getUint32(8, true));
    if (!ingress) return -ENODEV;
    if (!ingress.forwarding) return FIB_RET.FWD_DISABLED;
    const oif = flags & BPF_FIB_LOOKUP.OUTPUT ? ingress.ifindex : 0;
    const dst = p.getUint32(32, false);
    let tables = [MAIN, RT_TABLE.default!];
    if (flags & BPF_FIB_LOOKUP.DIRECT) {
      const t = this.directTable(p, flags);
      // local and main are one trie; any other table exists once a route is in it.
      if (t !== MAIN && t !== LOCAL && !this.tables4.has(t)) return FIB_RET.NOT_FWDED;
      tables = [t === LOCAL ? MAIN : t];
    }
    let found: Entry | undefined;
    let failed: number | undefined;
    // fib_table_lookup: the most specific prefix with a usable alias; a reject route
    // ends the lookup, a throw route leaves the table (the next one is tried).
    for (const table of tables) {
      let thrown = false;
      for (const e of this.entries) {
        if (e.table !== table || (dst & mask(e.len)) >>> 0 !== e.net) continue;
        if (e.type === "throw") {
          thrown = true;
          break;
        }
        if (e.type in REJECT) {
          failed = REJECT[e.type];
          break;
        }
        if (oif && e.dev !== oif) continue;
        found = e;
        break;
      }
      if (found || failed !== undefined || (thrown && flags & BPF_FIB_LOOKUP.DIRECT)) break;
    }
    if (failed !== undefined) return failed;
    if (!found || found.type !== "unicast") return FIB_RET.NOT_FWDED;
    const dev = this.ifaces.get(found.dev)!;
    let mtu = 0;
    if (checkMtu) {
      mtu = dev.mtu;
      if (p.getUint16(6, true) > mtu) {
        p.setUint16(6, mtu, true);
        return FIB_RET.FRAG_NEEDED;
      }
    }
    p.setUint32(12, found.metric, true);
    p.setUint32(8, dev.ifindex, true);
    if (flags & BPF_FIB_LOOKUP.SRC) p.setUint32(16, this.prefsrc4(found, dev), false);
    // The gateway replaces the destination even when the neighbour is skipped.
    if (found.gateway !== null) p.setUint32(32, found.gateway, false);
    if (!(flags & BPF_FIB_LOOKUP.SKIP_NEIGH)) {
      const mac = this.neigh.get(`${dev.ifindex} ${p.getUint32(32, false)}`);
      if (!mac) return FIB_RET.NO_NEIGH;
      const bytes = new Uint8Array(p.buffer, p.byteOffset, 64);
      bytes.set(mac, 58);
      bytes.set(dev.mac, 52);
    }
    // bpf_fib_set_fwd_params: no VLAN; the MTU over tot_len when it was checked.
    p.setUint32(48, 0, true);
    if (mtu) p.setUint16(6, mtu, true);
    return FIB_RET.SUCCESS;
  }

  /**
   * fib_result_prefsrc: the route's prefsrc, else inet_select_addr — the egress device's
   * first primary address of the route's scope or wider (one in the gateway's subnet
   * first), then any device's, in device order; 0 when there is none.
   */
  private prefsrc4(e: Entry, dev: Iface): number {
    if (e.prefsrc !== null) return e.prefsrc;
    const scope = e.scope;
    const gw = e.gateway ?? 0;
    let addr = 0;
    for (const a of dev.addrs4) {
      if (a.secondary || Math.min(a.scope, SCOPES.host!) > scope) continue;
      if (!gw || ((gw ^ a.local) & a.mask) >>> 0 === 0) return a.local;
      if (!addr) addr = a.local;
    }
    if (addr) return addr;
    for (const d of this.order)
      for (const a of d.addrs4)
        if (!a.secondary && a.scope <= scope && Math.min(a.scope, SCOPES.host!) <= scope)
          return a.local;
    return 0;
  }

  /** fib6_table_lookup in one table: the longest prefix, its lowest metric, oif preferred. */
  private table6(table: number, dst: bigint, oif: number): Entry6 | undefined {
    let len = -1;
    let best: Entry6 | undefined;
    for (const e of this.entries6) {
      if (e.len < len) break;
      if (e.table !== table || !inPrefix6(dst, e.net, e.len)) continue;
      len = e.len;
      // the node's routes: the first of the lowest metric, one out of oif before it
      if (
        !best ||
        e.metric < best.metric ||
        (e.metric === best.metric && best.dev !== oif && e.dev === oif)
      )
        best = e;
    }
    return best;
  }

  private lookup6(p: DataView, flags: number, checkMtu: boolean): number {
    const dst = read6(p, 32);
    const src = read6(p, 16);
    // link-local, loopback and multicast addresses are never forwarded
    if (needStrict(dst) || needStrict(src)) return FIB_RET.NOT_FWDED;
    const ingress = this.ifaces.get(p.getUint32(8, true));
    if (!ingress) return -ENODEV;
    if (!ingress.forwarding6) return FIB_RET.FWD_DISABLED;
    // The lookup's device is preferred among a prefix's routes, ingress or egress alike.
    const oif = ingress.ifindex;
    let tables = [LOCAL, MAIN];
    if (flags & BPF_FIB_LOOKUP.DIRECT) {
      const t = this.directTable(p, flags);
      if (!this.tables6.has(t)) return FIB_RET.NOT_FWDED;
      tables = [t];
    }
    let found: Entry6 | undefined;
    for (const t of tables) if ((found = this.table6(t, dst, oif))) break;
    if (!found) return FIB_RET.NOT_FWDED;
    if (found.type in REJECT && found.type !== "nat") return REJECT[found.type]!;
    if (found.type !== "unicast") return FIB_RET.NOT_FWDED;
    const dev = this.ifaces.get(found.dev)!;
    let mtu = 0;
    if (checkMtu) {
      // ip6_mtu_from_fib6: the device's IPv6 MTU, at least 1280
      mtu = Math.min(Math.max(IPV6_MIN_MTU, dev.mtu6), IP6_MAX_MTU);
      if (p.getUint16(6, true) > mtu) {
        p.setUint16(6, mtu & 0xffff, true);
        return FIB_RET.FRAG_NEEDED;
      }
    }
    if (found.gateway !== null) write6(p, 32, found.gateway);
    p.setUint32(12, found.metric, true);
    p.setUint32(8, dev.ifindex, true);
    if (flags & BPF_FIB_LOOKUP.SRC) {
      const s = found.prefsrc ?? this.saddr6(dst, dev);
      if (s === null) return FIB_RET.NO_SRC_ADDR;
      write6(p, 16, s);
    }
    if (!(flags & BPF_FIB_LOOKUP.SKIP_NEIGH)) {
      const mac = this.neigh.get(`${dev.ifindex} 6 ${read6(p, 32)}`);
      if (!mac) return FIB_RET.NO_NEIGH;
      const bytes = new Uint8Array(p.buffer, p.byteOffset, 64);
      bytes.set(mac, 58);
      bytes.set(dev.mac, 52);
    }
    p.setUint32(48, 0, true);
    if (mtu) p.setUint16(6, mtu & 0xffff, true);
    return FIB_RET.SUCCESS;
  }

  /**
   * ipv6_dev_get_saddr for a destination the lookup forwards (global or site scope): every
   * device's usable addresses in order (the egress device's only with use_oif_addrs_only), the best by RFC 6724's rules as Linux applies
   * them — the same address, an appropriate scope, not deprecated, on the egress device,
   * the same label, public, ORCHID alike, the longest common prefix — the first found on a
   * tie; null when there is none.
   */
  private saddr6(dst: bigint, dev: Iface): bigint | null {
    const dstScope = scope6(dst);
    const dstLabel = label6(dst);
    type Cand = { a: Addr6; ifindex: number };
    const rules: ((c: Cand) => number)[] = [
      (c) => Number(c.a.addr === dst),
      (c) => {
        const s = scope6(c.a.addr);
        return s >= dstScope ? -s : s - 128;
      },
      (c) => Number(!c.a.avoid || c.a.addr === 1n),
      (c) => Number(c.ifindex === dev.ifindex),
      (c) => Number(label6(c.a.addr) === dstLabel),
      (c) => Number(!c.a.temporary),
      (c) => Number(isOrchid(c.a.addr) === isOrchid(dst)),
      (c) => Math.min(commonBits(c.a.addr, dst), c.a.prefixlen),
    ];
    let best: Cand | null = null;
    for (const d of dev.oifAddrsOnly ? [dev] : this.order)
      for (const a of d.addrs6) {
        if (!a.usable || a.addr === 0n || a.addr >> 120n === 0xffn) continue;
        const c = { a, ifindex: d.ifindex };
        if (!best) {
          best = c;
          continue;
        }
        for (const r of rules) {
          const h = r(best);
          const s = r(c);
          if (s > h) best = c;
          if (s !== h) break;
        }
      }
    return best ? best.a.addr : null;
  }
}
