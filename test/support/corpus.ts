// The packet corpus of differential tests and benchmarks: every Ethernet packet of
// ../shared/corpus/tcpdump (when present) plus the crafted corpus of crafted.ts,
// deduplicated, in a stable order. Packets BPF_PROG_TEST_RUN cannot run are left
// out: shorter than an Ethernet header (EINVAL) or longer than MAX_XDP_TEST_PACKET
// (ENOMEM; the 80 KB BIG TCP captures).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LINKTYPE_ETHERNET, PcapError, readPcap } from "../../runtime/packets/pcap.ts";
import { hex } from "../../runtime/packets/build.ts";
import { craftedCorpus, prng } from "./crafted.ts";

export const TCPDUMP_DIR = fileURLToPath(
  new URL("../../../shared/corpus/tcpdump", import.meta.url),
);
export const MIN_XDP_PACKET = 14;
/** Linear part (4096 - 256 headroom - 320 skb_shared_info) + MAX_SKB_FRAGS (17) pages, on x86_64. */
export const MAX_XDP_TEST_PACKET = 3520 + 17 * 4096;

export interface CorpusPacket {
  data: Uint8Array;
  /** Where it came from: "tcpdump:<file>#<n>" (1-based) or "crafted:<name>"; the first source of a duplicate wins. */
  source: string;
}

export interface Corpus {
  packets: CorpusPacket[];
  /** Whether the tcpdump captures were found and read. */
  tcpdump: boolean;
  stats: {
    tcpdumpFiles: number;
    tcpdumpPackets: number;
    crafted: number;
    duplicates: number;
    tooShort: number;
    tooLong: number;
    nonEthernet: number;
    /** Capture files that did not parse, with the reader's message. */
    unreadable: string[];
  };
}

export interface CorpusOptions {
  /** Read the tcpdump captures when present (default true). */
  tcpdump?: boolean;
  /** Include the crafted corpus (default true). */
  crafted?: boolean;
  /** Override the directory of capture files. */
  dir?: string;
  /** Leave out packets longer than this (default MAX_XDP_TEST_PACKET). */
  maxLength?: number;
}

const cache = new Map<string, Corpus>();

/** Loads (once per option set) the deduplicated corpus. */
export function loadCorpus(opts: CorpusOptions = {}): Corpus {
  const key = JSON.stringify(opts);
  const hit = cache.get(key);
  if (hit) return hit;
  const corpus = build(opts);
  cache.set(key, corpus);
  return corpus;
}

function build(opts: CorpusOptions): Corpus {
  const dir = opts.dir ?? TCPDUMP_DIR;
  const max = opts.maxLength ?? MAX_XDP_TEST_PACKET;
  const stats: Corpus["stats"] = {
    tcpdumpFiles: 0,
    tcpdumpPackets: 0,
    crafted: 0,
    duplicates: 0,
    tooShort: 0,
    tooLong: 0,
    nonEthernet: 0,
    unreadable: [],
  };
  const seen = new Set<string>();
  const packets: CorpusPacket[] = [];
  const add = (data: Uint8Array, source: string) => {
    if (data.length < MIN_XDP_PACKET) {
      stats.tooShort++;
      return;
    }
    if (data.length > max) {
      stats.tooLong++;
      return;
    }
    const k = hex(data);
    if (seen.has(k)) {
      stats.duplicates++;
      return;
    }
    seen.add(k);
    packets.push({ data, source });
  };

  const useTcpdump = (opts.tcpdump ?? true) && existsSync(dir);
  if (useTcpdump) {
    for (const f of readdirSync(dir)
      .filter((n) => /\.pcap(ng)?$/.test(n))
      .sort()) {
      stats.tcpdumpFiles++;
      let file;
      try {
        file = readPcap(new Uint8Array(readFileSync(join(dir, f))));
      } catch (e) {
        if (!(e instanceof PcapError)) throw e;
        stats.unreadable.push(`${f}: ${e.message}`);
        continue;
      }
      file.packets.forEach((p, i) => {
        stats.tcpdumpPackets++;
        if (p.linkType !== LINKTYPE_ETHERNET) stats.nonEthernet++;
        else add(p.data, `tcpdump:${f}#${i + 1}`);
      });
    }
  }
  if (opts.crafted ?? true) {
    for (const p of craftedCorpus({ minLength: MIN_XDP_PACKET })) {
      stats.crafted++;
      add(p.data, `crafted:${p.name}`);
    }
  }
  return { packets, tcpdump: useTcpdump, stats };
}

/**
 * A deterministic sample of `n` packets (all when n >= length), in corpus order, so a
 * benchmark sees the same packets on every run and machine for the same seed.
 */
export function samplePackets<T>(packets: readonly T[], n: number, seed = 1): T[] {
  if (n >= packets.length) return [...packets];
  const rnd = prng(seed);
  const idx = [...packets.keys()];
  // Partial Fisher-Yates: the first n slots become a uniform sample.
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rnd() * (idx.length - i));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => packets[i]!);
}
