// Runtime side of the "xdpc" module. Filters are compiled by xdpc, never run by Node; this file
// exists so that importing a filter module does not crash, exports the constants with their real
// values, and makes every kernel-only helper fail with an explanation instead of a TypeError.

const notCompiled = (name) => {
  throw new Error(
    `xdpc: ${name} runs only inside a filter compiled by xdpc (xdpc build / xdpc load); it cannot be called from JavaScript`,
  );
};

// Verdicts
export const XDP_ABORTED = 0;
export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const XDP_TX = 3;
export const XDP_REDIRECT = 4;
export const TC_ACT_UNSPEC = -1;
export const TC_ACT_OK = 0;
export const TC_ACT_RECLASSIFY = 1;
export const TC_ACT_SHOT = 2;
export const TC_ACT_PIPE = 3;
export const TC_ACT_STOLEN = 4;
export const TC_ACT_QUEUED = 5;
export const TC_ACT_REPEAT = 6;
export const TC_ACT_REDIRECT = 7;
export const TCX_NEXT = -1;
export const TCX_PASS = 0;
export const TCX_DROP = 2;
export const TCX_REDIRECT = 7;
export const XSK_DROP = 0;
export const XSK_TX = 1;

// Map update flags
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

// fibLookup
export const BPF_FIB_LOOKUP_DIRECT = 1;
export const BPF_FIB_LOOKUP_OUTPUT = 2;
export const BPF_FIB_LOOKUP_SKIP_NEIGH = 4;
export const BPF_FIB_LOOKUP_TBID = 8;
export const BPF_FIB_LOOKUP_SRC = 16;
export const BPF_FIB_LKUP_RET_SUCCESS = 0;
export const BPF_FIB_LKUP_RET_BLACKHOLE = 1;
export const BPF_FIB_LKUP_RET_UNREACHABLE = 2;
export const BPF_FIB_LKUP_RET_PROHIBIT = 3;
export const BPF_FIB_LKUP_RET_NOT_FWDED = 4;
export const BPF_FIB_LKUP_RET_FWD_DISABLED = 5;
export const BPF_FIB_LKUP_RET_UNSUPP_LWT = 6;
export const BPF_FIB_LKUP_RET_NO_NEIGH = 7;
export const BPF_FIB_LKUP_RET_FRAG_NEEDED = 8;
export const BPF_FIB_LKUP_RET_NO_SRC_ADDR = 9;

// Protocol numbers
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;

// Helpers: kernel-only.
export function ktimeNs() {
  return notCompiled("ktimeNs()");
}
export function randomU32() {
  return notCompiled("randomU32()");
}
export function cpuId() {
  return notCompiled("cpuId()");
}
export function atomicAdd() {
  return notCompiled("atomicAdd()");
}
export function trace() {
  return notCompiled("trace()");
}
export function redirect() {
  return notCompiled("redirect()");
}
export function redirectNeigh() {
  return notCompiled("redirectNeigh()");
}
export function redirectPeer() {
  return notCompiled("redirectPeer()");
}
export function fibLookup() {
  return notCompiled("fibLookup()");
}
export function bswap16() {
  return notCompiled("bswap16()");
}
export function bswap32() {
  return notCompiled("bswap32()");
}
export function bswap64() {
  return notCompiled("bswap64()");
}
export function htons() {
  return notCompiled("htons()");
}
export function htonl() {
  return notCompiled("htonl()");
}
export function ntohs() {
  return notCompiled("ntohs()");
}
export function ntohl() {
  return notCompiled("ntohl()");
}
export function csumDiff() {
  return notCompiled("csumDiff()");
}
export function csumFold() {
  return notCompiled("csumFold()");
}
export function csumReplace16() {
  return notCompiled("csumReplace16()");
}
export function csumReplace32() {
  return notCompiled("csumReplace32()");
}
export function zeroed() {
  return notCompiled("zeroed()");
}

/** Outside xdpc a parameter simply has its default value. */
export function param(name, def) {
  return def;
}

// Map declarations: constructing one is harmless (so a filter module can be imported, e.g. for
// its exported types); using one outside the kernel is an error.
function mapClass(kind, methods) {
  const cls = class {
    constructor(options) {
      this.options = options;
    }
  };
  Object.defineProperty(cls, "name", { value: kind });
  for (const m of methods) {
    cls.prototype[m] = function () {
      return notCompiled(`${kind}.${m}()`);
    };
  }
  return cls;
}

const DATA = ["lookup", "lookupRef", "update", "delete", "increment"];
export const ArrayMap = mapClass("ArrayMap", DATA);
export const PerCpuArray = mapClass("PerCpuArray", DATA);
export const HashMap = mapClass("HashMap", DATA);
export const PerCpuHash = mapClass("PerCpuHash", DATA);
export const LruHash = mapClass("LruHash", DATA);
export const LruPerCpuHash = mapClass("LruPerCpuHash", DATA);
export const LpmTrie = mapClass("LpmTrie", DATA);
export const DevMap = mapClass("DevMap", ["lookup", "redirect"]);
export const DevMapHash = mapClass("DevMapHash", ["lookup", "redirect"]);
export const CpuMap = mapClass("CpuMap", ["redirect"]);
export const XskMap = mapClass("XskMap", ["redirect"]);
export const RingBuf = mapClass("RingBuf", ["output"]);
