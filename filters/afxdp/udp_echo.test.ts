// filters/afxdp/udp_echo.ts: the kernel side (attack datagrams dropped and counted, echo
// requests redirected, the fallback XDP_PASS while no socket is there) with
// BPF_PROG_TEST_RUN, and the handler through its batch loop over fake rings
// (test/xsk/fake.ts): replies rewritten exactly, `limit` replies per client and window.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { compile, compileWasm } from "../../compiler/driver/index.ts";
import { CTL } from "../../compiler/wasm/xsk-abi.ts";
import { mapLookup, possibleCpus } from "../../native/object.ts";
import { buildFrame, inetChecksum } from "../../runtime/packets/build.ts";
import { describeKernel } from "../../test/support/kernel.ts";
import { hex } from "../../runtime/packets/build.ts";
import { loadXdpObject, runXdp, XDP_DROP, XDP_PASS } from "../../test/support/xdp.ts";
import { FakeRings } from "../../test/xsk/fake.ts";

const file = new URL("./udp_echo.ts", import.meta.url).pathname;
const server = { mac: "02:00:c6:12:00:01", ip: "198.18.0.1" };
const request = (src: string, sport: number, dport = 7) =>
  buildFrame({
    srcMac: "02:00:c6:12:00:02",
    dstMac: server.mac,
    src,
    dst: server.ip,
    ttl: 9,
    l4: { proto: "udp", sport, dport },
    payload: new TextEncoder().encode("hello"),
  });

let object: Uint8Array;
let wasm: Uint8Array;
beforeAll(async () => {
  const out = compile(readFileSync(file, "utf8"), { file, emit: "object" });
  if (!out.object) throw new Error(out.diagnostics.map((d) => d.message).join("\n"));
  object = out.object;
  wasm = (await compileWasm(out, { only: "handler", rxBatch: true }))!.binary!;
});

describe("udp_echo handler", () => {
  it("answers `limit` requests per client in a window, rewritten in place", () => {
    // .rodata: limit = 3, window_ms = the longest window (no reset during the test).
    const rodata = new Uint8Array(new Uint32Array([3, 0xffffffff]).buffer);
    const rings = new FakeRings(wasm, "echo", 64, 128, rodata);
    const a = request("198.18.0.2", 40000);
    const b = request("198.18.0.6", 40001);
    rings.receive([a, a, b, a, a, a, b, request("198.18.0.2", 40000, 9)]);
    expect(rings.batch(rings.ctl, 64)).toBe(8);
    const sent = rings.transmit();
    expect([rings.counter(CTL.tx), rings.counter(CTL.drop)]).toEqual([5n, 3n]);
    const reply = (req: Uint8Array) => {
      const r = req.slice();
      r.set(req.subarray(6, 12), 0); // MACs swapped
      r.set(req.subarray(0, 6), 6);
      r.set(req.subarray(30, 34), 26); // addresses swapped
      r.set(req.subarray(26, 30), 30);
      r[22] = 64; // TTL
      r.set(req.subarray(36, 38), 34); // ports swapped
      r.set(req.subarray(34, 36), 36);
      r[24] = r[25] = 0;
      new DataView(r.buffer).setUint16(24, inetChecksum(r.subarray(14, 34)));
      return hex(r);
    };
    expect(sent.map(hex)).toEqual([reply(a), reply(a), reply(b), reply(a), reply(b)]);
    // The incrementally updated header checksum is valid.
    for (const s of sent) expect(inetChecksum(s.subarray(14, 34))).toBe(0);
  });
});

describeKernel("udp_echo XDP program", () => {
  it("drops echo from well-known ports, redirects the rest (fallback XDP_PASS without a socket)", () => {
    const obj = loadXdpObject(object);
    try {
      const r = runXdp(obj.programFd("edge"), [
        request("198.18.0.2", 40000),
        request("198.18.0.2", 19),
        request("198.18.0.2", 7),
        request("198.18.0.2", 40000, 53),
      ]);
      expect(r.map((x) => x.verdict)).toEqual([XDP_PASS, XDP_DROP, XDP_DROP, XDP_PASS]);
      const v = mapLookup(obj.object.mapFd("attacks"), new Uint8Array(4), 8 * possibleCpus())!;
      const dv = new DataView(v.buffer);
      let sum = 0n;
      for (let c = 0; c < possibleCpus(); c++) sum += dv.getBigUint64(8 * c, true);
      expect(sum).toBe(2n);
    } finally {
      obj.close();
    }
  });
});
