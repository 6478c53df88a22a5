// Byte-exact archives for OCI images, written by hand so the same input gives the
// same bytes on every machine and Node version: POSIX ustar (tar) with fixed owner,
// mode and time, and gzip made of deflate "stored" blocks (RFC 1951 §3.2.4), which
// carry the data uncompressed and so do not depend on a zlib version. BPF objects
// are a few kilobytes; deterministic digests matter more here than size.

export interface TarEntry {
  /** Path inside the archive, without a leading "/" ("blobs/sha256/…"); directories end in "/". */
  name: string;
  /** File contents; absent for a directory. */
  data?: Uint8Array;
  /** Permission bits (default 0o644 for files, 0o755 for directories). */
  mode?: number;
}

const BLOCK = 512;
const enc = new TextEncoder();

function putString(h: Uint8Array, off: number, len: number, s: string): void {
  const b = enc.encode(s);
  if (b.length > len) throw new Error(`tar: '${s}' does not fit in ${len} bytes`);
  h.set(b, off);
}

/** An octal number of `len - 1` digits followed by NUL, as ustar's numeric fields are. */
function putOctal(h: Uint8Array, off: number, len: number, n: number): void {
  const s = n.toString(8).padStart(len - 1, "0");
  if (s.length > len - 1) throw new Error(`tar: ${n} does not fit in a ${len}-byte field`);
  putString(h, off, len, s);
}

/** Splits a path into ustar's prefix (≤155 bytes) and name (≤100 bytes). */
function splitName(path: string): [prefix: string, name: string] {
  if (enc.encode(path).length <= 100) return ["", path];
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (enc.encode(prefix).length <= 155 && enc.encode(name).length <= 100 && name)
      return [prefix, name];
  }
  throw new Error(`tar: path '${path}' is too long for ustar`);
}

function header(e: TarEntry, mtime: number): Uint8Array {
  const dir = e.data === undefined;
  const h = new Uint8Array(BLOCK);
  const [prefix, name] = splitName(e.name);
  putString(h, 0, 100, name);
  putOctal(h, 100, 8, e.mode ?? (dir ? 0o755 : 0o644));
  putOctal(h, 108, 8, 0); // uid
  putOctal(h, 116, 8, 0); // gid
  putOctal(h, 124, 12, dir ? 0 : e.data!.length);
  putOctal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h[156] = dir ? 0x35 : 0x30; // typeflag '5' directory, '0' regular file
  putString(h, 257, 6, "ustar"); // magic "ustar\0"
  putString(h, 263, 2, "00"); // version
  putString(h, 265, 32, "root");
  putString(h, 297, 32, "root");
  putOctal(h, 329, 8, 0); // devmajor
  putOctal(h, 337, 8, 0); // devminor
  putString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  putString(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** A ustar archive of `entries` in the order given; every entry owned by root, time `mtime` (seconds). */
export function tar(entries: readonly TarEntry[], mtime = 0): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const e of entries) {
    const h = header(e, mtime);
    parts.push(h);
    size += BLOCK;
    if (e.data) {
      const padded = Math.ceil(e.data.length / BLOCK) * BLOCK;
      const body = new Uint8Array(padded);
      body.set(e.data);
      parts.push(body);
      size += padded;
    }
  }
  size += 2 * BLOCK; // two zero blocks end the archive
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as gzip's trailer needs. */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of data) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A gzip member (RFC 1952) holding `data` in stored deflate blocks: header with no
 * name and mtime 0, OS 255 (unknown), then blocks of at most 65535 bytes, then CRC-32
 * and length. Any gunzip reads it; its bytes depend on `data` alone.
 */
export function gzipStored(data: Uint8Array): Uint8Array {
  const MAX = 0xffff;
  const blocks = Math.max(1, Math.ceil(data.length / MAX));
  const out = new Uint8Array(10 + blocks * 5 + data.length + 8);
  out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  let off = 10;
  for (let i = 0; i < blocks; i++) {
    const chunk = data.subarray(i * MAX, Math.min(data.length, (i + 1) * MAX));
    const last = i === blocks - 1;
    out[off] = last ? 1 : 0; // BFINAL, BTYPE 00 (stored)
    out[off + 1] = chunk.length & 0xff;
    out[off + 2] = chunk.length >>> 8;
    out[off + 3] = ~chunk.length & 0xff;
    out[off + 4] = (~chunk.length >>> 8) & 0xff;
    out.set(chunk, off + 5);
    off += 5 + chunk.length;
  }
  const dv = new DataView(out.buffer);
  dv.setUint32(off, crc32(data), true);
  dv.setUint32(off + 4, data.length >>> 0, true);
  return out;
}
