// The crafted packet corpus and fast-check arbitraries of packets, built with the
// runtime's packet builder (runtime/packets/build.ts): typical packets with every
// truncation, VLAN/QinQ, IPv4 options and broken headers, fragments, IPv6, TCP flag
// mixes, DNS, ICMP, ARP and random bytes; and structured random packets for property tests.
import fc from "fast-check";
import {
  type Bytes,
  DEFAULT_DST4,
  DEFAULT_SRC4,
  DEFAULT_SRC_MAC,
  ETH_P_8021AD,
  ETH_P_8021Q,
  ETH_P_ARP,
  ETH_P_IP,
  ETH_P_IPV6,
  type PacketSpec,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  type VlanTag,
  build,
  concat,
  dnsQuery,
  ethHeader,
  fragmentIpv4,
  fromHex,
} from "../../runtime/packets/build.ts";

/** Every proper prefix of `pkt`, from `min` bytes up to `pkt.length - 1`. */
export function truncations(pkt: Bytes, min = 0): Bytes[] {
  const out: Bytes[] = [];
  for (let n = min; n < pkt.length; n++) out.push(pkt.slice(0, n));
  return out;
}

// ---------------------------------------------------------------- crafted corpus

export interface CraftedPacket {
  /** What the packet is, e.g. "tcp4-syn" or "udp4-dns/trunc-33". */
  name: string;
  data: Bytes;
}

/** Deterministic PRNG (mulberry32) so the corpus is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ascii = (s: string) => new TextEncoder().encode(s);

/**
 * The crafted corpus: typical packets with every truncation (down to `minLength`,
 * 14 by default because BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet
 * header), VLAN/QinQ, IPv4 options and bad IHL/version, fragments, IPv6, TCP flag
 * mixes, DNS over UDP, ICMP echo, ARP, and random bytes.
 */
export function craftedCorpus(
  opts: { minLength?: number; randomCount?: number; seed?: number } = {},
): CraftedPacket[] {
  const min = opts.minLength ?? 14;
  const out: CraftedPacket[] = [];
  const add = (name: string, data: Bytes) => {
    if (data.length >= min) out.push({ name, data });
  };
  const addWithTruncations = (name: string, data: Bytes) => {
    add(name, data);
    for (const t of truncations(data, min)) add(`${name}/trunc-${t.length}`, t);
  };

  const http = ascii("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  const dns = dnsQuery("www.example.com");
  const icmpData = Uint8Array.from({ length: 32 }, (_, i) => 0x61 + (i % 23));

  // Typical packets, each with all its truncations.
  const typical: [string, PacketSpec][] = [
    [
      "tcp4-syn",
      {
        l4: {
          kind: "tcp",
          flags: TCP_SYN,
          options: fromHex("020405b4 0402 080a 00000001 00000000 01 030307"),
        },
      },
    ],
    ["tcp4-http", { l4: { kind: "tcp", flags: TCP_PSH | TCP_ACK, dport: 80 }, payload: http }],
    ["udp4-dns", { l4: { kind: "udp", dport: 53 }, payload: dns }],
    ["icmp4-echo-request", { l4: { kind: "icmp", type: 8 }, payload: icmpData }],
    ["tcp6-syn", { l3: { kind: "ipv6" }, l4: { kind: "tcp", flags: TCP_SYN } }],
    [
      "udp6-dns",
      {
        l3: { kind: "ipv6" },
        l4: { kind: "udp", dport: 53 },
        payload: dnsQuery("example.org", 28),
      },
    ],
    [
      "icmp6-echo-request",
      { l3: { kind: "ipv6" }, l4: { kind: "icmp6", type: 128 }, payload: icmpData },
    ],
    ["arp-request", { l3: { kind: "arp", op: 1 } }],
    [
      "vlan100-udp4-dns",
      { eth: { vlans: [{ vid: 100 }] }, l4: { kind: "udp", dport: 53 }, payload: dns },
    ],
    [
      "qinq-tcp4-syn",
      {
        eth: { vlans: [{ tpid: ETH_P_8021AD, vid: 10 }, { vid: 20 }] },
        l4: { kind: "tcp", flags: TCP_SYN },
      },
    ],
    [
      "ipv4-options-udp",
      { l3: { kind: "ipv4", options: fromHex("94040000") }, l4: { kind: "udp" }, payload: dns },
    ],
  ];
  for (const [name, spec] of typical) addWithTruncations(name, build(spec));

  // VLAN and QinQ over every L3.
  const tagSets: [string, VlanTag[]][] = [
    ["vlan", [{ vid: 1 }]],
    ["vlan-pcp", [{ vid: 4094, pcp: 7, dei: true }]],
    ["qinq", [{ tpid: ETH_P_8021AD, vid: 100 }, { vid: 200 }]],
    ["qinq-8100x2", [{ vid: 100 }, { vid: 200 }]],
    ["vlan-vid0", [{ vid: 0 }]],
  ];
  for (const [tn, vlans] of tagSets) {
    add(`${tn}-udp4`, build({ eth: { vlans }, l4: { kind: "udp", dport: 53 }, payload: dns }));
    add(`${tn}-tcp6`, build({ eth: { vlans }, l3: { kind: "ipv6" }, l4: { kind: "tcp" } }));
    add(`${tn}-arp`, build({ eth: { vlans }, l3: { kind: "arp" } }));
    add(`${tn}-icmp4`, build({ eth: { vlans }, l4: { kind: "icmp" }, payload: icmpData }));
  }
  // Three tags: deeper than filters usually parse.
  add(
    "vlan3-udp4",
    build({
      eth: { vlans: [{ tpid: ETH_P_8021AD, vid: 1 }, { vid: 2 }, { vid: 3 }] },
      l4: { kind: "udp" },
    }),
  );

  // IPv4 options and broken headers.
  const opts4: [string, Bytes][] = [
    ["nop", fromHex("01")],
    ["router-alert", fromHex("94040000")],
    ["record-route", fromHex("0707040000000000")],
    ["timestamp", fromHex("44 0c 05 00 00000000 00000000")],
    ["max-40", Uint8Array.from({ length: 40 }, () => 1)],
    ["eol-first", fromHex("00 01 01 01")],
  ];
  for (const [n, o] of opts4) {
    add(
      `ipv4-opt-${n}-udp`,
      build({ l3: { kind: "ipv4", options: o }, l4: { kind: "udp", dport: 53 }, payload: dns }),
    );
    add(
      `ipv4-opt-${n}-tcp`,
      build({ l3: { kind: "ipv4", options: o }, l4: { kind: "tcp", flags: TCP_SYN } }),
    );
  }
  for (let ihl = 0; ihl < 16; ihl++) {
    if (ihl === 5) continue;
    add(
      `ipv4-ihl-${ihl}-udp`,
      build({ l3: { kind: "ipv4", ihl }, l4: { kind: "udp" }, payload: dns }),
    );
  }
  for (const version of [0, 5, 6, 15]) {
    add(
      `ipv4-version-${version}`,
      build({ l3: { kind: "ipv4", version }, l4: { kind: "udp" }, payload: dns }),
    );
  }
  add(
    "ipv6-version-4",
    build({ l3: { kind: "ipv6", version: 4 }, l4: { kind: "udp" }, payload: dns }),
  );
  add(
    "ipv4-bad-checksum",
    build({ l3: { kind: "ipv4", checksum: 0xdead }, l4: { kind: "udp" }, payload: dns }),
  );
  add(
    "ipv4-totlen-short",
    build({ l3: { kind: "ipv4", totalLength: 20 }, l4: { kind: "udp" }, payload: dns }),
  );
  add(
    "ipv4-totlen-long",
    build({ l3: { kind: "ipv4", totalLength: 1500 }, l4: { kind: "udp" }, payload: dns }),
  );
  add("ipv4-ttl-0", build({ l3: { kind: "ipv4", ttl: 0 }, l4: { kind: "udp" } }));
  add("ipv4-ttl-1", build({ l3: { kind: "ipv4", ttl: 1 }, l4: { kind: "tcp" } }));
  add("ipv4-evil-bit", build({ l3: { kind: "ipv4", rf: true }, l4: { kind: "tcp" } }));
  add("ipv4-df", build({ l3: { kind: "ipv4", df: true }, l4: { kind: "tcp" } }));
  add(
    "ipv4-proto-gre",
    build({ l3: { kind: "ipv4", protocol: 47 }, payload: fromHex("00000800") }),
  );
  add("udp-len-short", build({ l4: { kind: "udp", length: 4 }, payload: dns }));
  add("udp-len-long", build({ l4: { kind: "udp", length: 9000 }, payload: dns }));
  add("udp-no-checksum", build({ l4: { kind: "udp", checksum: 0 }, payload: dns }));
  add("tcp-doff-4", build({ l4: { kind: "tcp", dataOffset: 4 }, payload: http }));
  add("tcp-doff-15", build({ l4: { kind: "tcp", dataOffset: 15 }, payload: http }));
  add("tcp-bad-checksum", build({ l4: { kind: "tcp", checksum: 0x0bad } }));

  // Fragments: first, middle, last (and a tiny first fragment that splits the TCP header).
  const bigUdp: PacketSpec = {
    l3: { kind: "ipv4", id: 0x7777 },
    l4: { kind: "udp", dport: 53 },
    payload: Uint8Array.from({ length: 100 }, (_, i) => i),
  };
  const frags = fragmentIpv4(bigUdp, 40);
  frags.forEach((f, i) =>
    add(`ipv4-frag-${i === 0 ? "first" : i === frags.length - 1 ? "last" : `middle-${i}`}`, f),
  );
  fragmentIpv4({ l4: { kind: "tcp", flags: TCP_SYN }, payload: http }, 8).forEach((f, i) =>
    add(`ipv4-tiny-frag-${i}`, f),
  );
  add(
    "ipv6-fragment-header",
    build({
      l3: { kind: "ipv6", nextHeader: 44 },
      payload: fromHex("11 00 0001 00000042 9c40 0035 0010 0000 0102030405060708"),
    }),
  );
  add(
    "ipv6-hop-by-hop",
    build({
      l3: { kind: "ipv6", nextHeader: 0 },
      payload: fromHex("11 00 05020000 0100 9c40 0035 0008 0000"),
    }),
  );

  // IPv6 variants.
  add("ipv6-no-next", build({ l3: { kind: "ipv6" } }));
  add(
    "ipv6-hop-limit-1",
    build({ l3: { kind: "ipv6", hopLimit: 1 }, l4: { kind: "udp" }, payload: dns }),
  );
  add(
    "ipv6-flow",
    build({ l3: { kind: "ipv6", trafficClass: 0xb8, flowLabel: 0xabcde }, l4: { kind: "tcp" } }),
  );
  add(
    "ipv6-paylen-long",
    build({ l3: { kind: "ipv6", payloadLength: 1400 }, l4: { kind: "udp" } }),
  );

  // TCP flag mixes, over both IP versions.
  const flagMixes: [string, number][] = [
    ["syn", TCP_SYN],
    ["syn-ack", TCP_SYN | TCP_ACK],
    ["ack", TCP_ACK],
    ["rst", TCP_RST],
    ["rst-ack", TCP_RST | TCP_ACK],
    ["fin", TCP_FIN],
    ["fin-ack", TCP_FIN | TCP_ACK],
    ["xmas", TCP_FIN | TCP_PSH | TCP_URG],
    ["null", 0],
    ["syn-fin", TCP_SYN | TCP_FIN],
    ["all", 0xff],
  ];
  for (const [n, flags] of flagMixes) {
    add(
      `tcp4-flags-${n}`,
      build({ l4: { kind: "tcp", flags, dport: 443, urgent: flags & TCP_URG ? 1 : 0 } }),
    );
    add(`tcp6-flags-${n}`, build({ l3: { kind: "ipv6" }, l4: { kind: "tcp", flags, dport: 22 } }));
  }

  // DNS queries over UDP.
  const names = ["example.com", "a.b.c.d.example.net", "x".repeat(63) + ".example", ""];
  names.forEach((n, i) => {
    for (const qtype of [1, 28, 255]) {
      add(
        `dns4-${i}-q${qtype}`,
        build({ l4: { kind: "udp", sport: 50000 + i, dport: 53 }, payload: dnsQuery(n, qtype, i) }),
      );
      add(
        `dns6-${i}-q${qtype}`,
        build({
          l3: { kind: "ipv6" },
          l4: { kind: "udp", dport: 53 },
          payload: dnsQuery(n, qtype, i),
        }),
      );
    }
  });
  add("dns4-response-port", build({ l4: { kind: "udp", sport: 53, dport: 50000 }, payload: dns }));

  // ICMP echo requests and replies.
  for (const size of [0, 8, 56, 1400]) {
    const data = Uint8Array.from({ length: size }, (_, i) => i & 0xff);
    add(
      `icmp4-request-${size}`,
      build({ l4: { kind: "icmp", type: 8, seq: size }, payload: data }),
    );
    add(`icmp4-reply-${size}`, build({ l4: { kind: "icmp", type: 0, seq: size }, payload: data }));
    add(
      `icmp6-request-${size}`,
      build({ l3: { kind: "ipv6" }, l4: { kind: "icmp6", type: 128 }, payload: data }),
    );
    add(
      `icmp6-reply-${size}`,
      build({ l3: { kind: "ipv6" }, l4: { kind: "icmp6", type: 129 }, payload: data }),
    );
  }
  add(
    "icmp4-unreachable",
    build({
      l4: { kind: "icmp", type: 3, code: 3 },
      payload: build({ eth: null, l4: { kind: "udp" } }),
    }),
  );

  // ARP.
  add(
    "arp-reply",
    build({
      l3: {
        kind: "arp",
        op: 2,
        sha: "02:00:00:00:00:02",
        spa: DEFAULT_DST4,
        tha: DEFAULT_SRC_MAC,
        tpa: DEFAULT_SRC4,
      },
    }),
  );
  add(
    "arp-gratuitous",
    build({
      eth: { dst: "ff:ff:ff:ff:ff:ff" },
      l3: { kind: "arp", op: 1, spa: "198.18.0.9", tpa: "198.18.0.9" },
    }),
  );

  // Other EtherTypes and addressing.
  add(
    "ethertype-lldp",
    build({
      eth: { dst: "01:80:c2:00:00:0e" },
      l3: { kind: "raw", etherType: 0x88cc },
      payload: new Uint8Array(32),
    }),
  );
  add(
    "ethertype-802.3-length",
    build({ l3: { kind: "raw", etherType: 0x0030 }, payload: new Uint8Array(48) }),
  );
  add(
    "broadcast-udp4",
    build({
      eth: { dst: "ff:ff:ff:ff:ff:ff" },
      l3: { kind: "ipv4", dst: "198.19.255.255" },
      l4: { kind: "udp", dport: 67 },
    }),
  );
  add(
    "multicast-udp6",
    build({
      eth: { dst: "33:33:00:00:00:01" },
      l3: { kind: "ipv6", dst: "ff02::1" },
      l4: { kind: "udp" },
    }),
  );
  add("jumbo-udp4", build({ l4: { kind: "udp" }, payload: new Uint8Array(8000).fill(0x5a) }));

  // Random bytes, and random bytes behind valid Ethernet+IP headers.
  const rnd = prng(opts.seed ?? 0x5eed);
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
  const count = opts.randomCount ?? 64;
  for (let i = 0; i < count; i++) {
    const n = min + Math.floor(rnd() * 200);
    add(`random-${i}`, randomBytes(n));
    const et = [ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_8021AD, ETH_P_ARP][i % 5]!;
    add(
      `random-after-ethertype-${et.toString(16)}-${i}`,
      concat(ethHeader({}, et), randomBytes(Math.floor(rnd() * 120))),
    );
  }
  return out;
}

// ---------------------------------------------------------------- fast-check

const arbV4 = fc
  .tuple(fc.constantFrom(198), fc.integer({ min: 18, max: 19 }), fc.nat(255), fc.nat(255))
  .map((p) => p.join("."));
const arbV6 = fc
  .array(fc.nat(0xffff), { minLength: 6, maxLength: 6 })
  .map((g) => ["2001", "db8", ...g.map((x) => x.toString(16))].join(":"));
const arbPort = fc.oneof(fc.constantFrom(53, 80, 443, 22, 123), fc.nat(0xffff));

/** Structured packets (valid by default, sometimes with overridden fields) for property tests. */
export function arbPacketSpec(): fc.Arbitrary<PacketSpec> {
  const vlan = fc.record({
    tpid: fc.constantFrom(ETH_P_8021Q, ETH_P_8021AD),
    vid: fc.nat(4095),
    pcp: fc.nat(7),
  });
  const eth = fc.record({ vlans: fc.array(vlan, { maxLength: 2 }) });
  const v4 = fc.record(
    {
      kind: fc.constant("ipv4" as const),
      src: arbV4,
      dst: arbV4,
      ttl: fc.nat(255),
      df: fc.boolean(),
      mf: fc.boolean(),
      fragOffset: fc.oneof(fc.constant(0), fc.nat(0x1fff)),
      options: fc.uint8Array({ maxLength: 40 }),
      ihl: fc.nat(15),
      version: fc.constantFrom(4, 4, 4, 6, 0),
    },
    { requiredKeys: ["kind", "src", "dst"] },
  );
  const v6 = fc.record(
    {
      kind: fc.constant("ipv6" as const),
      src: arbV6,
      dst: arbV6,
      hopLimit: fc.nat(255),
      flowLabel: fc.nat(0xfffff),
    },
    { requiredKeys: ["kind", "src", "dst"] },
  );
  const arp = fc.record({
    kind: fc.constant("arp" as const),
    op: fc.constantFrom(1 as const, 2 as const),
    spa: arbV4,
    tpa: arbV4,
  });
  const tcp = fc.record(
    {
      kind: fc.constant("tcp" as const),
      sport: arbPort,
      dport: arbPort,
      flags: fc.nat(255),
      seq: fc.nat(),
      options: fc.uint8Array({ maxLength: 40 }),
      dataOffset: fc.nat(15),
    },
    { requiredKeys: ["kind", "sport", "dport", "flags"] },
  );
  const udp = fc.record(
    { kind: fc.constant("udp" as const), sport: arbPort, dport: arbPort },
    { requiredKeys: ["kind"] },
  );
  const icmp = fc.record({
    kind: fc.constantFrom("icmp" as const),
    type: fc.constantFrom(0, 8, 3, 11),
  });
  const icmp6 = fc.record({
    kind: fc.constantFrom("icmp6" as const),
    type: fc.constantFrom(128, 129, 1, 135),
  });
  const payload = fc.uint8Array({ maxLength: 256 });
  return fc.oneof(
    fc.record({
      eth,
      l3: v4,
      l4: fc.option(fc.oneof(tcp, udp, icmp), { nil: undefined }),
      payload,
    }),
    fc.record({
      eth,
      l3: v6,
      l4: fc.option(fc.oneof(tcp, udp, icmp6), { nil: undefined }),
      payload,
    }),
    fc.record({ eth, l3: arp }),
  );
}

/** Wire bytes of arbitrary structured packets, optionally truncated at a random point. */
export function arbPacket(
  opts: { truncate?: boolean; minLength?: number } = {},
): fc.Arbitrary<Bytes> {
  const min = opts.minLength ?? 14;
  const whole = arbPacketSpec().map(build);
  if (!opts.truncate) return whole;
  return fc
    .tuple(whole, fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([p, f]) => p.slice(0, Math.max(Math.min(min, p.length), Math.round(p.length * f))));
}
