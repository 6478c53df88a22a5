// The ring buffer consumer and EventReader against the fake kernel of
// test/support/fakesys.ts: records read in order, discarded ones skipped, a reserved
// (busy) one ends the batch, a record wrapping the end reads whole, the consumer
// position released, the record type found in the program's BTF, and fds closed.
import { afterEach, beforeEach, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { compile } from "../../compiler/driver/index.ts";
import { parseElf } from "../../compiler/elf/reader.ts";
import { BPF_MAP_TYPE } from "../../compiler/uapi/bpf.ts";
import { NativeError } from "../../native/lib.ts";
import { EventReader, type RingEvent } from "../../runtime/observe/events.ts";
import { FakeKernel } from "../support/fakesys.ts";

let k: FakeKernel;
let uninstall: () => void;
beforeEach(() => {
  k = new FakeKernel();
  uninstall = k.install();
});
afterEach(() => {
  uninstall();
  expect(k.openFds()).toEqual([]);
});

const bytes = (...b: number[]) => new Uint8Array(b);

it("records in order; discarded ones skipped; a busy one ends the batch until committed", () => {
  const m = k.addMap({
    type: BPF_MAP_TYPE.RINGBUF,
    keySize: 0,
    valueSize: 0,
    maxEntries: 64,
    name: "events",
  });
  const r = EventReader.fromId(m.info.id);
  const got: RingEvent[] = [];
  r.on("event", (e: RingEvent) => got.push(e));
  k.produce(m, bytes(1, 2, 3));
  k.produce(m, bytes(9), { discard: true });
  k.produce(m, bytes(4, 5));
  expect(r.consume()).toBe(2);
  expect(got).toEqual([
    { record: { bytes: "010203" }, size: 3 },
    { record: { bytes: "0405" }, size: 2 },
  ]);
  // Consumer position: 3 records of 8-byte header + payload, each rounded up to 8.
  expect(m.ring!.cons.getBigUint64(0, true)).toBe(16n + 16n + 16n);
  k.produce(m, bytes(6), { busy: true });
  expect(r.consume()).toBe(0);
  r.close();
});

it("a record that wraps around the end of the ring reads as one", () => {
  const m = k.addMap({ type: BPF_MAP_TYPE.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 32 });
  const r = EventReader.fromId(m.info.id);
  const got: string[] = [];
  r.on("event", (e: RingEvent) => got.push((e.record as { bytes: string }).bytes));
  k.produce(m, bytes(...Array(12).fill(0xaa))); // 8 + 12 → 24 bytes
  expect(r.consume()).toBe(1);
  k.produce(m, bytes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)); // starts at 24, wraps at 32
  expect(r.consume(1)).toBe(1);
  expect(got).toEqual(["aa".repeat(12), "0102030405060708090a0b0c"]);
  r.close();
});

it("the record type comes from the BTF of the program that uses the ring buffer", () => {
  const path = "filters/tcp_events.ts";
  const out = compile(readFileSync(new URL(`../../${path}`, import.meta.url), "utf8"), {
    file: path,
    emit: "object",
  });
  const btfId = k.addBtf(parseElf(out.object!).section(".BTF")!.data);
  const m = k.addMap({
    type: BPF_MAP_TYPE.RINGBUF,
    keySize: 0,
    valueSize: 0,
    maxEntries: 4096,
    name: "events",
  });
  const p = k.addProg({ mapIds: [m.info.id], btfId });
  const r = EventReader.fromId(m.info.id, p.id);
  const rec = new Uint8Array(32);
  rec[0] = 1;
  const got: RingEvent[] = [];
  r.on("event", (e: RingEvent) => got.push(e));
  k.produce(m, rec);
  expect(r.consume()).toBe(1);
  expect(got[0]!.size).toBe(32);
  expect(Object.keys(got[0]!.record as object).length).toBeGreaterThan(1);
  expect(got[0]!.record).not.toHaveProperty("bytes");
  r.close();
});

it("a map that is not a ring buffer is refused, and its fd closed", () => {
  const m = k.addMap({ type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 4, name: "flows" });
  expect(() => EventReader.fromId(m.info.id)).toThrow(NativeError);
  expect(() => EventReader.fromId(m.info.id)).toThrow("map flows is not a ring buffer");
});

it("close() is idempotent: the ring is unmapped and the fd closed once", () => {
  const m = k.addMap({ type: BPF_MAP_TYPE.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 64 });
  const r = EventReader.fromId(m.info.id);
  let closed = 0;
  r.on("close", () => closed++);
  r.close();
  r.close();
  expect(closed).toBe(1);
  expect(r.consume()).toBe(0);
});
