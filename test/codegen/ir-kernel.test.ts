// Hand-built IR compiled by the backend and run by the kernel (no maps needed).
import { expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import { closeFd, loadRawProgram, testRun } from "../../native/bpf.ts";
import { Builder } from "../../compiler/ir/builder.ts";
import { generate } from "../../compiler/bpf/codegen.ts";
import { rawBytes } from "./raw.ts";
import { printFunc } from "../../compiler/ir/print.ts";
import type { Func } from "../../compiler/ir/ir.ts";
import { xdpFunc } from "../support/ir.ts";

function run(
  f: Func,
  packets: Uint8Array[],
  optimize = true,
): { retvals: number[]; data: Uint8Array[]; count: number } {
  const p = generate(f, { optimize });
  let fd = -1;
  try {
    fd = loadRawProgram(rawBytes(p.insns)).fd;
  } catch (e) {
    throw new Error(`${(e as Error).message}`);
  }
  try {
    const rs = packets.map((pkt) => testRun(fd, pkt));
    return { retvals: rs.map((r) => r.retval), data: rs.map((r) => r.data), count: p.insns.length };
  } finally {
    closeFd(fd);
  }
}

function udpPacket(ttl: number, dport: number, vlan = false): Uint8Array {
  const eth = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const tag = vlan ? [0x81, 0x00, 0x00, 0x05] : [];
  const ip = [0x45, 0, 0, 28, 0, 0, 0, 0, ttl, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
  const udp = [0x30, 0x39, dport >> 8, dport & 0xff, 0, 8, 0, 0];
  return Uint8Array.from([...eth, ...tag, 0x08, 0x00, ...ip, ...udp]);
}

/** Drops IPv4/UDP to `port` (big-endian compare after be16), decrements TTL otherwise. */
function filter(port: number): Func {
  const { b, data, end } = xdpFunc("f");
  const pass = b.block("pass");
  const ethOk = b.block("ethok");
  b.guard(data, 14, end, ethOk, pass);
  b.place(ethOk);
  const proto = b.un("be16", 32, b.load(2, data, 12));
  const isIp = b.block("isip");
  b.br("ne", 32, proto, 0x0800n, pass, isIp);
  b.place(isIp);
  const ip = b.ptrAdd(data, 14n);
  const ipOk = b.block("ipok");
  b.guard(ip, 20, end, ipOk, pass);
  b.place(ipOk);
  // l4 = ip + ihl*4, a variable offset the verifier must bound
  const ihl = b.bin("and", 32, b.load(1, ip, 0), 0x0fn);
  const l4off = b.bin("shl", 32, ihl, 2n);
  const l4 = b.ptrAdd(ip, l4off);
  const udpOk = b.block("udpok");
  b.guard(l4, 8, end, udpOk, pass);
  b.place(udpOk);
  const dport = b.un("be16", 32, b.load(2, l4, 2));
  const drop = b.block("drop");
  const dec = b.block("dec");
  b.br("eq", 32, dport, BigInt(port), drop, dec);
  b.place(drop);
  b.ret(1n);
  b.place(dec);
  const ttl = b.load(1, ip, 8);
  const nt = b.bin("sub", 32, ttl, 1n);
  b.store(1, ip, 8, nt);
  b.ret(2n);
  b.place(pass);
  b.ret(2n);
  return b.fn;
}

describeKernel("backend on hand-built IR: the verifier accepts and the kernel runs it", () => {
  it("parses eth/ipv4/udp with a variable header length, drops one port, rewrites TTL", () => {
    const r = run(filter(53), [
      udpPacket(64, 53),
      udpPacket(64, 54),
      udpPacket(1, 80).slice(0, 30),
      new Uint8Array(14),
    ]);
    expect(r.retvals).toEqual([1, 2, 2, 2]);
    expect(r.data[1]![22]).toBe(63);
  });

  it("keeps values across helper calls in callee-saved registers or spills", () => {
    const b = new Builder("calls");
    b.param("ctx", "ctx");
    const vs = Array.from({ length: 12 }, (_, k) => b.const("i64", BigInt(k + 1)));
    // Force all twelve to be live across a call: sum after.
    const t = b.call(5, [], "i64")!; // ktime
    let acc = b.bin("add", 64, vs[0]!, vs[1]!);
    for (const v of vs.slice(2)) acc = b.bin("add", 64, acc, v);
    const z = b.bin("mul", 64, t, 0n);
    b.ret(b.bin("add", 64, acc, z));
    // Disable constant folding to exercise spills.
    const r = run(b.fn, [new Uint8Array(20)], false);
    expect(r.retvals[0]).toBe(78);
  });

  it("counts zero bytes branch-free with isZero in a bounded loop", () => {
    const { b, data, end } = xdpFunc("zeros");
    const ok = b.block("ok");
    const short = b.block("short");
    b.guard(data, 16, end, ok, short); // (test_run needs ≥ 14 bytes)
    b.place(ok);
    const i = b.vreg("i32", "i");
    const zeros = b.vreg("i32", "zeros");
    b.mov(i, 0n);
    b.mov(zeros, 0n);
    const head = b.block("head");
    const body = b.block("body");
    const exit = b.block("exit");
    b.jmp(head);
    b.place(head);
    b.br("ult", 32, i, 16n, body, exit);
    b.place(body);
    const p = b.ptrAdd(data, i);
    const byte = b.load(1, p, 0);
    // if (byte === 0) zeros++  — the peephole pass makes it branch-free
    const inc = b.block("inc");
    const next = b.block("next");
    b.br("eq", 32, byte, 0n, inc, next);
    b.place(inc);
    b.bin("add", 32, zeros, 1n, zeros);
    b.jmp(next);
    b.place(next);
    b.bin("add", 32, i, 1n, i);
    b.jmp(head);
    b.place(exit);
    b.ret(zeros);
    b.place(short);
    b.ret(99n);
    const pkt = Uint8Array.from([0, 1, 0, 2, 0, 0, 3, 4, 5, 0, 6, 7, 8, 9, 1, 0, 0, 0]);
    const r = run(b.fn, [pkt, new Uint8Array(15)]);
    expect(r.retvals).toEqual([6, 99]);
    expect(printFunc(b.fn)).toContain("isZero32");
    expect(printFunc(b.fn).match(/ br /g)).toHaveLength(1); // only the loop test branches
  });
});
