// Reader and writer for capture files: classic pcap (both byte orders, microsecond
// and nanosecond magic, the Kuznetsov "modified" variant) and pcapng (SHB, IDB, EPB,
// SPB, OPB; other blocks skipped). Pure TypeScript, no dependencies. Malformed input
// raises PcapError naming the problem and the byte offset; it never reads out of bounds.

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;

export interface PcapPacket {
  /** Captured bytes (a copy, safe to keep); classic pcap cuts them to the file's snaplen, as libpcap does. */
  data: Uint8Array;
  /** Length on the wire; may exceed data.length when the capture was truncated. */
  origLen: number;
  /** Nanoseconds since the Unix epoch (bigint: seconds up to 2^32 do not fit a double in ns). */
  ts: bigint;
  /** Link type of the interface the packet was captured on (pcapng may mix them). */
  linkType: number;
  /** pcapng interface index within its section; 0 for classic pcap. */
  interfaceId: number;
  /** Byte offset of the packet's record (pcap) or block (pcapng) in the file. */
  offset: number;
}

export interface PcapFile {
  format: "pcap" | "pcapng";
  littleEndian: boolean;
  /** Link type of the file (pcap) or of the first interface (pcapng); -1 when a pcapng file has none. */
  linkType: number;
  /** Classic pcap: whether the timestamps' fraction is nanoseconds. */
  nanosecond: boolean;
  snapLen: number;
  packets: PcapPacket[];
}

/** A malformed or unsupported capture file; `offset` is the byte where the problem is. */
export class PcapError extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {
    super(`${reason} (at byte offset ${offset})`);
    this.name = "PcapError";
  }
}

const PCAP_US = 0xa1b2c3d4;
const PCAP_NS = 0xa1b23c4d;
const PCAP_MODIFIED = 0xa1b2cd34;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;
const BLOCK_IDB = 1;
const BLOCK_OPB = 2;
const BLOCK_SPB = 3;
const BLOCK_EPB = 6;
const OPT_END = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

/** libpcap's MAXIMUM_SNAPLEN; records are clamped to the file's snaplen, at most this. */
export const MAX_SNAPLEN = 262144;
/** Larger captured lengths are corruption, not packets (libpcap refuses them too). */
const MAX_CAPLEN = 64 << 20;

/** libpcap's LT_LINKTYPE: the upper bits of the header field carry FCS information. */
const linkTypeOf = (field: number) => field & 0x03ffffff;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Parses a whole capture file held in memory. */
export function readPcap(bytes: Uint8Array): PcapFile {
  if (bytes.length < 4)
    throw new PcapError(`file too short for a magic number: ${bytes.length} bytes`, 0);
  const dv = view(bytes);
  if (dv.getUint32(0, false) === PCAPNG_SHB) return readPcapng(bytes, dv);
  return readClassic(bytes, dv);
}

function readClassic(bytes: Uint8Array, dv: DataView): PcapFile {
  const be = dv.getUint32(0, false);
  const le = dv.getUint32(0, true);
  const magics = [PCAP_US, PCAP_NS, PCAP_MODIFIED];
  let littleEndian: boolean;
  let magic: number;
  if (magics.includes(le)) [littleEndian, magic] = [true, le];
  else if (magics.includes(be)) [littleEndian, magic] = [false, be];
  else {
    throw new PcapError(
      `bad magic 0x${be.toString(16).padStart(8, "0")}: not a pcap (a1b2c3d4/a1b23c4d) or pcapng (0a0d0d0a) file`,
      0,
    );
  }
  if (bytes.length < 24)
    throw new PcapError(`truncated file header: ${bytes.length} of 24 bytes`, bytes.length);
  const major = dv.getUint16(4, littleEndian);
  if (major !== 2)
    throw new PcapError(`unsupported pcap version ${major}.${dv.getUint16(6, littleEndian)}`, 4);
  const snapLen = dv.getUint32(16, littleEndian);
  const linkType = linkTypeOf(dv.getUint32(20, littleEndian));
  // libpcap's pcap_adjust_snapshot: a zero or oversized snaplen means the maximum.
  const snap = snapLen === 0 || snapLen > MAX_SNAPLEN ? MAX_SNAPLEN : snapLen;
  const nanosecond = magic === PCAP_NS;
  const recHeader = magic === PCAP_MODIFIED ? 24 : 16;
  const packets: PcapPacket[] = [];
  let off = 24;
  while (off < bytes.length) {
    if (bytes.length - off < recHeader) {
      throw new PcapError(
        `truncated record header: ${bytes.length - off} of ${recHeader} bytes`,
        off,
      );
    }
    const sec = dv.getUint32(off, littleEndian);
    const frac = dv.getUint32(off + 4, littleEndian);
    const capLen = dv.getUint32(off + 8, littleEndian);
    const origLen = dv.getUint32(off + 12, littleEndian);
    const start = off + recHeader;
    if (capLen > MAX_CAPLEN)
      throw new PcapError(
        `implausible captured length ${capLen} in packet ${packets.length + 1}`,
        off + 8,
      );
    if (capLen > bytes.length - start) {
      throw new PcapError(
        `truncated packet ${packets.length + 1}: captured length ${capLen} but only ${bytes.length - start} bytes remain`,
        start,
      );
    }
    packets.push({
      // As libpcap does, a record longer than the snapshot length is cut to it.
      data: bytes.slice(start, start + Math.min(capLen, snap)),
      origLen,
      ts: BigInt(sec) * 1_000_000_000n + BigInt(frac) * (nanosecond ? 1n : 1000n),
      linkType,
      interfaceId: 0,
      offset: off,
    });
    off = start + capLen;
  }
  return { format: "pcap", littleEndian, linkType, nanosecond, snapLen, packets };
}

interface Interface {
  linkType: number;
  snapLen: number;
  /** Timestamp units per second, and the offset in seconds added to every timestamp. */
  unitsPerSec: bigint;
  offsetSec: bigint;
}

function readPcapng(bytes: Uint8Array, dv: DataView): PcapFile {
  const packets: PcapPacket[] = [];
  let interfaces: Interface[] = [];
  let firstLinkType = -1;
  let firstSnap = 0;
  let fileLittle = true;
  let little = true;
  let off = 0;
  let sawShb = false;
  while (off < bytes.length) {
    if (bytes.length - off < 12)
      throw new PcapError(`truncated block header: ${bytes.length - off} of 12 bytes`, off);
    const rawType = dv.getUint32(off, false);
    if (rawType === PCAPNG_SHB) {
      // The byte-order magic decides how this whole section is read.
      if (bytes.length - off < 28) throw new PcapError(`truncated section header block`, off);
      const bomLe = dv.getUint32(off + 8, true);
      if (bomLe === PCAPNG_BOM) little = true;
      else if (dv.getUint32(off + 8, false) === PCAPNG_BOM) little = false;
      else throw new PcapError(`bad pcapng byte-order magic 0x${bomLe.toString(16)}`, off + 8);
      if (!sawShb) fileLittle = little;
      sawShb = true;
      const major = dv.getUint16(off + 12, little);
      if (major !== 1) throw new PcapError(`unsupported pcapng version ${major}`, off + 12);
      interfaces = [];
    } else if (!sawShb) {
      throw new PcapError(`pcapng file does not start with a section header block`, off);
    }
    const type = dv.getUint32(off, little);
    const total = dv.getUint32(off + 4, little);
    if (total < 12 || total % 4 !== 0) {
      throw new PcapError(
        `bad block length ${total} (must be a multiple of 4 and at least 12)`,
        off + 4,
      );
    }
    if (total > bytes.length - off) {
      throw new PcapError(
        `truncated block: length ${total} but only ${bytes.length - off} bytes remain`,
        off,
      );
    }
    const trailer = dv.getUint32(off + total - 4, little);
    if (trailer !== total) {
      throw new PcapError(
        `block trailing length ${trailer} does not match leading length ${total}`,
        off + total - 4,
      );
    }
    const body = off + 8;
    const bodyEnd = off + total - 4;
    const need = (n: number, what: string) => {
      if (bodyEnd - body < n)
        throw new PcapError(`${what} block too short: ${bodyEnd - body} of ${n} body bytes`, off);
    };
    const iface = (id: number, at: number): Interface => {
      const i = interfaces[id];
      if (!i)
        throw new PcapError(
          `packet refers to interface ${id} but only ${interfaces.length} are defined`,
          at,
        );
      return i;
    };
    switch (type) {
      case BLOCK_IDB: {
        need(8, "interface description");
        const linkType = dv.getUint16(body, little);
        const snapLen = dv.getUint32(body + 4, little);
        const i: Interface = { linkType, snapLen, unitsPerSec: 1_000_000n, offsetSec: 0n };
        readOptions(dv, body + 8, bodyEnd, little, (code, at, len) => {
          if (code === OPT_IF_TSRESOL && len >= 1) {
            const r = bytes[at]!;
            const exp = BigInt(r & 0x7f);
            if (exp > 60n) throw new PcapError(`unsupported if_tsresol ${r}`, at);
            i.unitsPerSec = r & 0x80 ? 1n << exp : 10n ** exp;
          } else if (code === OPT_IF_TSOFFSET && len >= 8) {
            i.offsetSec = dv.getBigInt64(at, little);
          }
        });
        if (firstLinkType < 0) [firstLinkType, firstSnap] = [linkType, snapLen];
        interfaces.push(i);
        break;
      }
      case BLOCK_EPB:
      case BLOCK_OPB: {
        need(20, type === BLOCK_EPB ? "enhanced packet" : "packet");
        const id = type === BLOCK_EPB ? dv.getUint32(body, little) : dv.getUint16(body, little);
        const i = iface(id, body);
        const ts =
          (BigInt(dv.getUint32(body + 4, little)) << 32n) | BigInt(dv.getUint32(body + 8, little));
        const capLen = dv.getUint32(body + 12, little);
        const origLen = dv.getUint32(body + 16, little);
        const start = body + 20;
        if (capLen > bodyEnd - start) {
          throw new PcapError(
            `captured length ${capLen} exceeds its block (${bodyEnd - start} bytes)`,
            body + 12,
          );
        }
        packets.push({
          data: bytes.slice(start, start + capLen),
          origLen,
          ts: toNs(ts, i),
          linkType: i.linkType,
          interfaceId: id,
          offset: off,
        });
        break;
      }
      case BLOCK_SPB: {
        need(4, "simple packet");
        const i = iface(0, body);
        const origLen = dv.getUint32(body, little);
        // An SPB's captured length is implied: the original length, cut by snaplen and the block.
        let capLen = Math.min(origLen, bodyEnd - body - 4);
        if (i.snapLen > 0) capLen = Math.min(capLen, i.snapLen);
        packets.push({
          data: bytes.slice(body + 4, body + 4 + capLen),
          origLen,
          ts: 0n,
          linkType: i.linkType,
          interfaceId: 0,
          offset: off,
        });
        break;
      }
      default:
        break; // SHB handled above; NRB, ISB, DSB, custom blocks carry nothing we need.
    }
    off += total;
  }
  return {
    format: "pcapng",
    littleEndian: fileLittle,
    linkType: firstLinkType,
    nanosecond: false,
    snapLen: firstSnap,
    packets,
  };
}

const LINKTYPE_NAMES: Record<number, string> = {
  0: "BSD loopback",
  1: "Ethernet",
  101: "raw IP",
  105: "802.11",
  113: "Linux cooked (SLL)",
  127: "802.11 radiotap",
  276: "Linux cooked v2 (SLL2)",
};

/**
 * The packets, when all of them have `linkType` (Ethernet by default); otherwise a
 * PcapError naming the first packet of another link type and its offset. Readers
 * that accept any link type use `packets` and each packet's `linkType` directly.
 */
export function packetsOfLinkType(file: PcapFile, linkType = LINKTYPE_ETHERNET): PcapPacket[] {
  const i = file.packets.findIndex((p) => p.linkType !== linkType);
  if (i >= 0) {
    const p = file.packets[i]!;
    const name = (t: number) => `${LINKTYPE_NAMES[t] ?? "link type"} (LINKTYPE ${t})`;
    throw new PcapError(
      `packet ${i + 1} has unsupported link type ${name(p.linkType)}; expected ${name(linkType)}`,
      p.offset,
    );
  }
  return file.packets;
}

function toNs(units: bigint, i: Interface): bigint {
  return (units * 1_000_000_000n) / i.unitsPerSec + i.offsetSec * 1_000_000_000n;
}

function readOptions(
  dv: DataView,
  start: number,
  end: number,
  little: boolean,
  fn: (code: number, at: number, len: number) => void,
): void {
  let at = start;
  while (end - at >= 4) {
    const code = dv.getUint16(at, little);
    const len = dv.getUint16(at + 2, little);
    if (code === OPT_END) return;
    if (len > end - at - 4)
      throw new PcapError(`option ${code} of length ${len} overruns its block`, at);
    fn(code, at + 4, len);
    at += 4 + ((len + 3) & ~3);
  }
}

export interface WritePacket {
  data: Uint8Array;
  origLen?: number;
  /** Nanoseconds since the epoch; defaults to 0. */
  ts?: bigint;
  /** pcapng only: index into `linkTypes`. */
  interfaceId?: number;
}

export interface WritePcapOptions {
  linkType?: number;
  nanosecond?: boolean;
  littleEndian?: boolean;
  snapLen?: number;
}

/** Serialises packets as a classic pcap file (the format `xdpc test --out` writes). */
export function writePcap(
  packets: readonly WritePacket[],
  opts: WritePcapOptions = {},
): Uint8Array {
  const le = opts.littleEndian ?? true;
  const ns = opts.nanosecond ?? false;
  const size = 24 + packets.reduce((s, p) => s + 16 + p.data.length, 0);
  const out = new Uint8Array(size);
  const dv = view(out);
  dv.setUint32(0, ns ? PCAP_NS : PCAP_US, le);
  dv.setUint16(4, 2, le);
  dv.setUint16(6, 4, le);
  dv.setUint32(16, opts.snapLen ?? 262144, le);
  dv.setUint32(20, opts.linkType ?? LINKTYPE_ETHERNET, le);
  let off = 24;
  for (const p of packets) {
    const ts = p.ts ?? 0n;
    const sec = ts / 1_000_000_000n;
    const frac = ts % 1_000_000_000n;
    if (ts < 0n || sec > 0xffffffffn)
      throw new RangeError(`timestamp ${ts} ns does not fit a pcap record`);
    dv.setUint32(off, Number(sec), le);
    dv.setUint32(off + 4, Number(ns ? frac : frac / 1000n), le);
    dv.setUint32(off + 8, p.data.length, le);
    dv.setUint32(off + 12, p.origLen ?? p.data.length, le);
    out.set(p.data, off + 16);
    off += 16 + p.data.length;
  }
  return out;
}

/**
 * Serialises packets as pcapng: one section, one IDB per link type (nanosecond
 * resolution), one EPB per packet. Used to test the reader and by tools that need
 * several link types in one file.
 */
export function writePcapng(
  packets: readonly WritePacket[],
  opts: { linkTypes?: number[]; littleEndian?: boolean; snapLen?: number } = {},
): Uint8Array {
  const le = opts.littleEndian ?? true;
  const linkTypes = opts.linkTypes ?? [LINKTYPE_ETHERNET];
  const pad4 = (n: number) => (n + 3) & ~3;
  const shbLen = 28;
  const idbLen = 20 + 8 + 4; // header+fields, if_tsresol option (4+4), opt_endofopt
  const size =
    shbLen + linkTypes.length * idbLen + packets.reduce((s, p) => s + 32 + pad4(p.data.length), 0);
  const out = new Uint8Array(size);
  const dv = view(out);
  let off = 0;
  const block = (type: number, len: number) => {
    dv.setUint32(off, type, le);
    dv.setUint32(off + 4, len, le);
    dv.setUint32(off + len - 4, len, le);
  };
  block(PCAPNG_SHB, shbLen);
  dv.setUint32(8, PCAPNG_BOM, le);
  dv.setUint16(12, 1, le);
  dv.setBigInt64(16, -1n, le); // section length unknown
  off += shbLen;
  for (const lt of linkTypes) {
    block(BLOCK_IDB, idbLen);
    dv.setUint16(off + 8, lt, le);
    dv.setUint32(off + 12, opts.snapLen ?? 262144, le);
    dv.setUint16(off + 16, OPT_IF_TSRESOL, le);
    dv.setUint16(off + 18, 1, le);
    out[off + 20] = 9; // 10^-9 s
    off += idbLen; // the end-of-options word is already zero
  }
  for (const p of packets) {
    const id = p.interfaceId ?? 0;
    if (id >= linkTypes.length) throw new RangeError(`interface ${id} has no link type`);
    const len = 32 + pad4(p.data.length);
    block(BLOCK_EPB, len);
    const ts = p.ts ?? 0n;
    dv.setUint32(off + 8, id, le);
    dv.setUint32(off + 12, Number(ts >> 32n), le);
    dv.setUint32(off + 16, Number(ts & 0xffffffffn), le);
    dv.setUint32(off + 20, p.data.length, le);
    dv.setUint32(off + 24, p.origLen ?? p.data.length, le);
    out.set(p.data, off + 28);
    off += len;
  }
  return out;
}
