// bpf_fib_lookup for the Wasm host, over a route table it is given instead of the
// kernel's FIB: the IPv4 path of the kernel's bpf_ipv4_fib_lookup (net/core/filter.c)
// with the default policy rules — the local and main tables looked up as one (the
// kernel merges them while no `ip rule` is added), then the default table; longest
// prefix first, then the lowest metric; blackhole/unreachable/prohibit as their
// BPF_FIB_LKUP_RET_* codes, any other non-unicast route (local, broadcast) NOT_FWDED;
// the egress device's MTU; the next hop's neighbour entry for the MACs. The table's
// fields are those `ip -j` prints, so `ip -j link`, `ip -4 -j route show table all` and
// `ip -4 -j neigh` of a namespace make one (runtime/lab/routes.ts does that).

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
}

/** A route: `ip -j route` fields. */
export interface Route {
  /** "198.19.46.4/30", "198.19.46.1" (a /32) or "default". */
  dst: string;
  /** The egress device: its name (ifname) or ifindex. */
  dev?: string | number;
  /** The next hop, for a route via a gateway. */
  gateway?: string;
  /** Default "unicast". */
  type?: string;
  /** "main" (default), "local" or "default". */
  table?: string;
  /** Default 0. */
  metric?: number;
}

/** A neighbour entry: `ip -j neigh` fields. */
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
/** Table order of a lookup with the default rules: local ∪ main, then default. */
const TABLE_RANK: Record<string, number> = { local: 0, main: 0, default: 1 };

interface Entry {
  net: number;
  len: number;
  type: string;
  rank: number;
  /** local before main where both hold the prefix (as in the kernel's merged trie). */
  local: boolean;
  metric: number;
  dev: number;
  gateway: number | null;
}

interface Iface {
  ifindex: number;
  mac: Uint8Array;
  mtu: number;
  forwarding: boolean;
}

function ipv4(s: unknown, where: string): number {
  const m = typeof s === "string" ? /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s) : null;
  const parts = m ? m.slice(1).map(Number) : [];
  if (!m || parts.some((p) => p > 255)) throw new RouteTableError(`${where}: not an IPv4 address`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function macOf(s: unknown, where: string): Uint8Array {
  if (typeof s !== "string" || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(s))
    throw new RouteTableError(`${where}: not a MAC address (aa:bb:cc:dd:ee:ff)`);
  return Uint8Array.from(s.split(":").map((x) => parseInt(x, 16)));
}

const mask = (len: number) => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);

/** A route table checked and indexed for lookups. */
export class FibTable {
  private readonly ifaces = new Map<number, Iface>();
  /** Longest prefix first, then table rank, local first, lowest metric. */
  private readonly entries: Entry[] = [];
  /** "ifindex ip" → MAC, for NUD_VALID entries only. */
  private readonly neigh = new Map<string, Uint8Array>();

  constructor(table: unknown, source = "routes") {
    if (typeof table !== "object" || table === null || Array.isArray(table))
      throw new RouteTableError(`${source}: expected { interfaces, routes, neighbours }`);
    const t = table as Record<string, unknown>;
    const list = (k: string, required: boolean): Record<string, unknown>[] => {
      const v = t[k];
      if (v === undefined && !required) return [];
      if (!Array.isArray(v)) throw new RouteTableError(`${source}: ${k} must be a list`);
      return v.map((x, i) => {
        if (typeof x !== "object" || x === null || Array.isArray(x))
          throw new RouteTableError(`${source}: ${k}[${i}] must be an object`);
        return x as Record<string, unknown>;
      });
    };
    const names = new Map<string, number>();
    list("interfaces", true).forEach((x, i) => {
      const at = `${source}: interfaces[${i}]`;
      if (!Number.isInteger(x.ifindex) || (x.ifindex as number) <= 0)
        throw new RouteTableError(`${at}.ifindex: a positive integer is required`);
      const ifindex = x.ifindex as number;
      const mtu = x.mtu ?? 1500;
      if (!Number.isInteger(mtu) || (mtu as number) < 68)
        throw new RouteTableError(`${at}.mtu: an integer ≥ 68 is required`);
      if (x.forwarding !== undefined && typeof x.forwarding !== "boolean")
        throw new RouteTableError(`${at}.forwarding: true or false`);
      this.ifaces.set(ifindex, {
        ifindex,
        mac: macOf(x.address, `${at}.address`),
        mtu: Math.min(mtu as number, 0xffff),
        forwarding: x.forwarding !== false,
      });
      if (typeof x.ifname === "string") names.set(x.ifname, ifindex);
    });
    const dev = (v: unknown, at: string): number => {
      const i = typeof v === "string" ? names.get(v) : v;
      if (typeof i !== "number" || !this.ifaces.has(i))
        throw new RouteTableError(`${at}: no interface ${JSON.stringify(v)} in interfaces`);
      return i;
    };
    list("routes", true).forEach((x, i) => {
      const at = `${source}: routes[${i}]`;
      const type = (x.type ?? "unicast") as string;
      if (!TYPES.has(type)) throw new RouteTableError(`${at}.type: unknown route type '${type}'`);
      const table = (x.table ?? "main") as string;
      if (!(table in TABLE_RANK))
        throw new RouteTableError(
          `${at}.table: '${table}' — only main, local and default are looked up without ip rules, which the host does not model`,
        );
      for (const k of ["nexthops", "encap", "tos", "dsfield"])
        if (x[k] !== undefined)
          throw new RouteTableError(`${at}: '${k}' routes are not modelled by the Wasm host`);
      let net = 0;
      let len = 0;
      if (x.dst !== "default") {
        const [a, l] = typeof x.dst === "string" ? x.dst.split("/") : [];
        net = ipv4(a, `${at}.dst`);
        len = l === undefined ? 32 : Number(l);
        if (!Number.isInteger(len) || len < 0 || len > 32 || !/^\d+$/.test(l ?? "32"))
          throw new RouteTableError(`${at}.dst: bad prefix length`);
        net = (net & mask(len)) >>> 0;
      }
      const metric = x.metric ?? 0;
      if (!Number.isInteger(metric) || (metric as number) < 0)
        throw new RouteTableError(`${at}.metric: a non-negative integer is required`);
      // Reject and throw routes have no device; ip prints one for the others.
      const needsDev = type === "unicast";
      this.entries.push({
        net,
        len,
        type,
        rank: TABLE_RANK[table]!,
        local: table === "local",
        metric: metric as number,
        dev: needsDev || x.dev !== undefined ? dev(x.dev, `${at}.dev`) : 0,
        gateway: x.gateway === undefined ? null : ipv4(x.gateway, `${at}.gateway`),
      });
    });
    this.entries.sort(
      (a, b) =>
        b.len - a.len ||
        a.rank - b.rank ||
        Number(b.local) - Number(a.local) ||
        a.metric - b.metric,
    );
    list("neighbours", false).forEach((x, i) => {
      const at = `${source}: neighbours[${i}]`;
      const addr = ipv4(x.dst, `${at}.dst`);
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
    if (family === AF_INET6)
      throw new RouteTableError(
        "fib_lookup: the Wasm host models IPv4 routes only (AF_INET6 asked)",
      );
    if (family !== AF_INET) return -EAFNOSUPPORT;
    if (flags & (BPF_FIB_LOOKUP.TBID | BPF_FIB_LOOKUP.SRC))
      throw new RouteTableError(
        "fib_lookup: the Wasm host does not model BPF_FIB_LOOKUP_TBID or BPF_FIB_LOOKUP_SRC",
      );
    const totLen = p.getUint16(6, true);
    // XDP always checks the MTU; the skb helper only when tot_len is given.
    const checkMtu = skbLen === undefined || totLen !== 0;
    const rc = this.lookup4(p, flags, checkMtu);
    if (rc === FIB_RET.SUCCESS && !checkMtu) {
      const dev = this.ifaces.get(p.getUint32(8, true))!;
      p.setUint16(6, dev.mtu, true);
      // is_skb_forwardable: the MTU plus an Ethernet header and one VLAN tag.
      if (skbLen! > dev.mtu + 14 + 4) return FIB_RET.FRAG_NEEDED;
    }
    return rc;
  }

  private lookup4(p: DataView, flags: number, checkMtu: boolean): number {
    const ingress = this.ifaces.get(p.getUint32(8, true));
    if (!ingress) return -ENODEV;
    if (!ingress.forwarding) return FIB_RET.FWD_DISABLED;
    const oif = flags & BPF_FIB_LOOKUP.OUTPUT ? ingress.ifindex : 0;
    const dst = p.getUint32(32, false);
    let found: Entry | undefined;
    let failed: number | undefined;
    // fib_table_lookup: the most specific prefix with a usable alias; a reject route
    // ends the lookup, a throw route leaves the table (the next one is tried).
    for (const rank of flags & BPF_FIB_LOOKUP.DIRECT ? [0] : [0, 1]) {
      let thrown = false;
      for (const e of this.entries) {
        if (e.rank !== rank || (dst & mask(e.len)) >>> 0 !== e.net) continue;
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
}
