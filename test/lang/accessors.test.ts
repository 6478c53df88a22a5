// §5 accessor table over crafted frames, and the §1 example filter verbatim, in the kernel.
import { SPEC_EXAMPLE } from "../support/filters.ts";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject, type XdpObject } from "../support/xdp.ts";
import { build as packet, ipv4, type PacketSpec } from "../../runtime/packets/build.ts";
import { mapUpdate } from "../../native/object.ts";
import { buildSource, loadFixture, lookupU64, perCpuSumU64, run, u32le } from "./harness.ts";

const ETH = 1,
  VLAN = 2,
  V4 = 4,
  V6 = 8,
  TCP = 16,
  UDP = 32,
  ICMP = 64,
  ICMP6 = 128;

describeKernel("§5 accessor rules (fixture accessors)", () => {
  let obj: XdpObject;
  beforeAll(() => {
    obj = loadFixture("accessors");
  });
  afterAll(() => obj?.close());
  const mask = (p: Uint8Array) => {
    expect(run(obj, "accessors", p).retval).toBe(2);
    return Number(lookupU64(obj, "out", u32le(0)));
  };
  const cases: [string, PacketSpec | Uint8Array, number][] = [
    ["14 zero bytes (the kernel runs no shorter frame)", new Uint8Array(14), ETH],
    ["ARP", { l3: { kind: "arp" } }, ETH],
    ["IPv4 UDP", { l3: { kind: "ipv4" }, l4: { kind: "udp" } }, ETH | V4 | UDP],
    [
      "IPv4 TCP with options",
      { l3: { kind: "ipv4", options: new Uint8Array(8) }, l4: { kind: "tcp" } },
      ETH | V4 | TCP,
    ],
    ["IPv4 ICMP", { l3: { kind: "ipv4" }, l4: { kind: "icmp" } }, ETH | V4 | ICMP],
    ["IPv4 later fragment", { l3: { kind: "ipv4", fragOffset: 8 }, l4: { kind: "udp" } }, ETH | V4],
    [
      "IPv4 first fragment (MF)",
      { l3: { kind: "ipv4", mf: true }, l4: { kind: "udp" } },
      ETH | V4 | UDP,
    ],
    ["IPv4 version 5", { l3: { kind: "ipv4", version: 5 }, l4: { kind: "udp" } }, ETH],
    ["IPv4 ihl 4", { l3: { kind: "ipv4", ihl: 4 }, l4: { kind: "udp" } }, ETH],
    ["IPv6 TCP", { l3: { kind: "ipv6" }, l4: { kind: "tcp" } }, ETH | V6 | TCP],
    ["IPv6 UDP", { l3: { kind: "ipv6" }, l4: { kind: "udp" } }, ETH | V6 | UDP],
    ["IPv6 ICMPv6", { l3: { kind: "ipv6" }, l4: { kind: "icmp6" } }, ETH | V6 | ICMP6],
    ["IPv6 version 4", { l3: { kind: "ipv6", version: 4 }, l4: { kind: "udp" } }, ETH],
    [
      "802.1Q IPv4 UDP",
      { eth: { vlans: [{ vid: 5 }] }, l3: { kind: "ipv4" }, l4: { kind: "udp" } },
      ETH | VLAN | V4 | UDP,
    ],
    [
      "QinQ IPv6 TCP",
      {
        eth: { vlans: [{ vid: 5, tpid: 0x88a8 }, { vid: 6 }] },
        l3: { kind: "ipv6" },
        l4: { kind: "tcp" },
      },
      ETH | VLAN | V6 | TCP,
    ],
    [
      "three tags",
      {
        eth: { vlans: [{ vid: 1 }, { vid: 2 }, { vid: 3 }] },
        l3: { kind: "ipv4" },
        l4: { kind: "udp" },
      },
      ETH | VLAN,
    ],
  ];
  for (const [name, spec, want] of cases)
    it(name, () => {
      expect(mask(spec instanceof Uint8Array ? spec : packet(spec))).toBe(want);
    });

  it("truncated headers are null", () => {
    const p = packet({ l3: { kind: "ipv4" }, l4: { kind: "tcp" } });
    expect(mask(p.subarray(0, 14 + 20 + 19))).toBe(ETH | V4);
    expect(mask(p.subarray(0, 14 + 19))).toBe(ETH);
    const v = packet({ eth: { vlans: [{ vid: 1 }] }, l3: { kind: "arp" } });
    expect(mask(v.subarray(0, 17))).toBe(ETH);
  });

  it("reads ports after IPv4 options; a checksum plus a constant keeps its carry", () => {
    const p = packet({
      l3: { kind: "ipv4", options: new Uint8Array(4), checksum: 0xff80 },
      l4: { kind: "tcp", dport: 8080 },
    });
    mask(p);
    expect(lookupU64(obj, "out", u32le(1))).toBe(8080n);
    expect(lookupU64(obj, "out", u32le(2))).toBe(0x10080n);
  });
});

describeKernel("LANGUAGE.md §1 example, verbatim", () => {
  it("drops blocked sources and counts DNS", () => {
    const obj = loadXdpObject(buildSource(SPEC_EXAMPLE, "firewall.ts"));
    try {
      const key = new Uint8Array(8);
      key.set(u32le(24));
      key.set(ipv4("198.18.7.0"), 4);
      mapUpdate(obj.object.mapFd("blocked"), key, new Uint8Array(8));
      const from = (src: string, dport: number) =>
        packet({ l3: { kind: "ipv4", src }, l4: { kind: "udp", dport } });
      expect(run(obj, "firewall", from("198.18.7.9", 53)).retval).toBe(1);
      expect(run(obj, "firewall", from("198.18.8.9", 53)).retval).toBe(2);
      expect(run(obj, "firewall", from("198.18.8.9", 54)).retval).toBe(2);
      expect(perCpuSumU64(obj, "stats", u32le(0))).toBe(1n);
      expect(perCpuSumU64(obj, "stats", u32le(1))).toBe(1n);
    } finally {
      obj.close();
    }
  });
});
