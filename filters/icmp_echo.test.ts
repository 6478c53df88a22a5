// filters/icmp_echo.ts on a few frames: an echo request comes back as the reply (XDP_TX,
// addresses swapped, type 0, checksums still valid); anything else passes.
import { expect, it } from "vitest";
import { describeFilter } from "../test/support/filtertest.ts";
import { build, inetChecksum, tcp4 } from "../runtime/packets/build.ts";

describeFilter("icmp_echo", (f) => {
  it("an ICMP echo request becomes its reply, sent back out", () => {
    const req = build({
      eth: { src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02" },
      l3: { kind: "ipv4", src: "198.18.0.1", dst: "198.18.0.2", ttl: 9 },
      l4: { kind: "icmp", id: 7, seq: 1 },
      payload: new Uint8Array([1, 2, 3, 4]),
    });
    const [r] = f().run(req);
    expect(r!.name).toBe("XDP_TX");
    const out = r!.data;
    expect([...out.subarray(0, 6)]).toEqual([...req.subarray(6, 12)]); // MACs swapped
    expect([...out.subarray(26, 30)]).toEqual([...req.subarray(30, 34)]); // IPs swapped
    expect([out[22], out[34]]).toEqual([64, 0]); // TTL 64, echo reply
    expect(inetChecksum(out.subarray(14, 34))).toBe(0);
    expect(inetChecksum(out.subarray(34))).toBe(0);
    expect(f().map("replies").get(0)).toBe(1n);
  });

  it("TCP passes untouched", () => {
    const p = tcp4({ dport: 80 });
    const [r] = f().run(p);
    expect(r!.name).toBe("XDP_PASS");
    expect(r!.data).toEqual(p);
  });
});
