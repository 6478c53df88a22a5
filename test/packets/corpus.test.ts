import { describe, expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import {
  loadCorpus,
  MAX_XDP_TEST_PACKET,
  MIN_XDP_PACKET,
  samplePackets,
  TCPDUMP_DIR,
} from "../support/corpus.ts";
import { hex } from "../../runtime/packets/build.ts";
import { craftedCorpus } from "../support/crafted.ts";
import { closeFd, loadRawProgram, testRun } from "../../native/bpf.ts";
import { existsSync } from "node:fs";

describe("packet corpus", () => {
  it("crafted only: deduplicated, every packet runnable-sized, first source kept", () => {
    const c = loadCorpus({ tcpdump: false });
    expect(c.tcpdump).toBe(false);
    const crafted = craftedCorpus();
    const distinct = new Set(crafted.map((p) => hex(p.data)));
    expect(c.packets.length).toBe(distinct.size);
    expect(c.stats.duplicates).toBe(crafted.length - distinct.size);
    expect(
      c.packets.every(
        (p) => p.data.length >= MIN_XDP_PACKET && p.data.length <= MAX_XDP_TEST_PACKET,
      ),
    ).toBe(true);
    expect(c.packets[0]!.source).toBe(`crafted:${crafted[0]!.name}`);
  });

  it("is cached per option set", () => {
    expect(loadCorpus({ tcpdump: false })).toBe(loadCorpus({ tcpdump: false }));
  });

  it("samples deterministically, in corpus order, without repeats", () => {
    const items = [...Array(1000).keys()];
    const a = samplePackets(items, 50, 7);
    expect(a).toEqual(samplePackets(items, 50, 7));
    expect(a).not.toEqual(samplePackets(items, 50, 8));
    expect(new Set(a).size).toBe(50);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(samplePackets(items, 5000)).toEqual(items);
    // Roughly uniform: the sample is not bunched at the start.
    expect(a.filter((x) => x >= 500).length).toBeGreaterThan(10);
  });
});

(existsSync(TCPDUMP_DIR) ? describe : describe.skip)(
  `packet corpus with tcpdump captures${existsSync(TCPDUMP_DIR) ? "" : " [skipped: ../shared absent]"}`,
  () => {
    it("reads all 7,987 capture packets, accounting for every one", () => {
      const c = loadCorpus();
      const s = c.stats;
      expect(c.tcpdump).toBe(true);
      expect(s.tcpdumpFiles).toBe(402);
      expect(s.tcpdumpPackets).toBe(7987);
      expect(s.unreadable).toEqual([]);
      expect(s.nonEthernet).toBe(0);
      expect(s.tooLong).toBe(11); // the BIG TCP captures, 80 KB each
      expect(c.packets.length).toBe(
        s.tcpdumpPackets + s.crafted - s.duplicates - s.tooShort - s.tooLong,
      );
      expect(c.packets.some((p) => p.source.startsWith("tcpdump:802.1ad_QinQ.pcap#"))).toBe(true);
    });
  },
);

describeKernel("corpus size limits match the kernel", () => {
  it(`BPF_PROG_TEST_RUN runs ${MIN_XDP_PACKET}..${MAX_XDP_TEST_PACKET} bytes and refuses one byte less or more`, () => {
    const { fd } = loadRawProgram(
      new Uint8Array([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]),
    );
    try {
      expect(testRun(fd, new Uint8Array(MIN_XDP_PACKET)).retval).toBe(2);
      expect(testRun(fd, new Uint8Array(MAX_XDP_TEST_PACKET)).data.length).toBe(
        MAX_XDP_TEST_PACKET,
      );
      expect(() => testRun(fd, new Uint8Array(MIN_XDP_PACKET - 1))).toThrow(/EINVAL/);
      expect(() => testRun(fd, new Uint8Array(MAX_XDP_TEST_PACKET + 1))).toThrow(/ENOMEM/);
    } finally {
      closeFd(fd);
    }
  });
});
