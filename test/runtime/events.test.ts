// Ring buffer events from filters/tcp_events.ts, produced by BPF_PROG_TEST_RUN and
// decoded with the record type the compiler writes into BTF.
import { afterAll, beforeAll, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { compile } from "../../compiler/driver/index.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { testRun } from "../../native/bpf.ts";
import { progInfo } from "../../native/info.ts";
import { EventReader, type RingEvent } from "../../runtime/observe/events.ts";
import { programMaps } from "../../runtime/observe/maps.ts";
import { describeKernel } from "../support/kernel.ts";
import { checkFdLeaks, loadXdpObject, type XdpObject } from "../support/xdp.ts";
import { tcp4, udp4 } from "../../runtime/packets/build.ts";

const SYN = 0x02;
const ACK = 0x10;
const RST = 0x04;

describeKernel("ring buffer events (filters/tcp_events.ts)", () => {
  let bytes: Uint8Array;
  let obj: XdpObject;
  let prog: number;
  beforeAll(() => {
    const path = "filters/tcp_events.ts";
    const out = compile(readFileSync(new URL(`../../${path}`, import.meta.url), "utf8"), {
      file: path,
      emit: "object",
    });
    bytes = out.object!;
    obj = loadXdpObject(bytes, { name: "tcp_events" });
    prog = obj.programFd();
  });
  afterAll(() => obj?.close());
  checkFdLeaks("each");

  it("the object names the record type in BTF", () => {
    const m = readObject(bytes).maps.find((x) => x.name === "events")!;
    expect(m.recordType).toBeGreaterThan(0);
  });

  it("decodes each record into an object (consume + EventEmitter)", () => {
    const reader = EventReader.fromObject(obj.object, bytes, "events");
    const got: RingEvent[] = [];
    reader.on("event", (e: RingEvent) => got.push(e));
    try {
      const before = process.hrtime.bigint();
      testRun(
        prog,
        tcp4({ sport: 40000, dport: 443, flags: SYN }, { src: "198.18.0.5", dst: "198.19.0.9" }),
      );
      testRun(
        prog,
        tcp4(
          { sport: 40000, dport: 443, flags: SYN | ACK },
          { src: "198.18.0.5", dst: "198.19.0.9" },
        ),
      ); // not reported
      testRun(prog, udp4({}, {})); // not TCP
      testRun(
        prog,
        tcp4(
          { sport: 22, dport: 50000, flags: RST | ACK },
          { src: "198.19.0.9", dst: "198.18.0.5" },
        ),
      );
      expect(reader.consume()).toBe(2);
      expect(got.map((e) => e.size)).toEqual([32, 32]);
      const [a, b] = got.map((e) => e.record as Record<string, unknown>);
      expect(a).toMatchObject({
        src: "198.18.0.5",
        dst: "198.19.0.9",
        srcPort: 40000,
        dstPort: 443,
        flags: SYN,
      });
      expect(b).toMatchObject({
        src: "198.19.0.9",
        dst: "198.18.0.5",
        srcPort: 22,
        dstPort: 50000,
        flags: RST | ACK,
      });
      // ktime_get_ns (monotonic) and Node's hrtime share CLOCK_MONOTONIC.
      expect(a!.timeNs as bigint).toBeGreaterThanOrEqual(before);
      expect(b!.timeNs as bigint).toBeGreaterThanOrEqual(a!.timeNs as bigint);
      expect(typeof a!.ifindex).toBe("number");
      expect(reader.consume()).toBe(0);
    } finally {
      reader.close();
    }
  });

  it("a reader that stops keeps the undelivered records in the ring", () => {
    for (let i = 0; i < 3; i++) testRun(prog, tcp4({ sport: 2000 + i, dport: 80, flags: SYN }));
    const first = EventReader.fromObject(obj.object, bytes, "events");
    const got: number[] = [];
    first.on("event", (e: RingEvent) => {
      got.push((e.record as { srcPort: number }).srcPort);
      first.close(); // from inside the listener
    });
    expect(first.consume()).toBe(1);
    expect(got).toEqual([2000]);
    const second = EventReader.fromObject(obj.object, bytes, "events");
    try {
      const rest: number[] = [];
      second.on("event", (e: RingEvent) => rest.push((e.record as { srcPort: number }).srcPort));
      expect(second.consume(1)).toBe(1);
      expect(second.consume()).toBe(1);
      expect(rest).toEqual([2001, 2002]);
    } finally {
      second.close();
    }
  });

  it("reads every record in order across many wraps of the ring", () => {
    const reader = EventReader.fromObject(obj.object, bytes, "events");
    try {
      const ports: number[] = [];
      reader.on("event", (e: RingEvent) => ports.push((e.record as { srcPort: number }).srcPort));
      // 40-byte slots (8-byte header + 32-byte record) in a 256 KiB ring: 6553 fit; write 5000 per round.
      let sent = 0;
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 5000; i++)
          testRun(prog, tcp4({ sport: (sent++ % 60000) + 1, dport: 80, flags: SYN }));
        reader.consume();
      }
      expect(ports).toHaveLength(25000);
      expect(ports.every((p, i) => p === (i % 60000) + 1)).toBe(true);
    } finally {
      reader.close();
    }
  }, 60000);

  it("async iterator yields records as the timer drains the ring", async () => {
    const reader = EventReader.fromObject(obj.object, bytes, "events", { intervalMs: 10 });
    try {
      for (let i = 0; i < 5; i++) testRun(prog, tcp4({ sport: 1000 + i, dport: 80, flags: SYN }));
      const ports: number[] = [];
      for await (const e of reader) {
        ports.push((e.record as { srcPort: number }).srcPort);
        if (ports.length === 5) break; // break closes the reader
      }
      expect(ports).toEqual([1000, 1001, 1002, 1003, 1004]);
    } finally {
      reader.close();
    }
  });

  it("finds the ring and its record type from the kernel alone (program id → BTF)", () => {
    const id = progInfo(prog).id;
    const pm = programMaps(id);
    try {
      const ring = pm.maps.find((m) => m.name === "events")!;
      expect(ring.typeName).toBe("ringbuf");
      const reader = EventReader.fromId(ring.meta.id!, id);
      try {
        testRun(prog, tcp4({ sport: 7, dport: 8, flags: SYN }, { src: "198.18.1.1" }));
        const seen: RingEvent[] = [];
        reader.on("event", (e: RingEvent) => seen.push(e));
        reader.consume();
        expect(seen.map((e) => e.record)).toEqual([
          expect.objectContaining({ src: "198.18.1.1", srcPort: 7, dstPort: 8 }),
        ]);
      } finally {
        reader.close();
      }
      // The .bss global `lost` is readable as a typed struct of its variables.
      const bss = pm.maps.find((m) => m.name.endsWith(".bss"))!;
      expect(bss.get(0)).toEqual({ lost: 0n });
    } finally {
      pm.close();
    }
  });
});
