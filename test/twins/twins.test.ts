// The C twins of filters/*.ts: each compiles with clang -O2 -target bpf, loads through the real
// verifier (bpftool prog loadall) and shows the filter's documented behaviour under
// BPF_PROG_TEST_RUN (bpftool prog run). Each twin runs in a private mount namespace with its
// own bpffs on /sys/fs/bpf, so pins (xdpc_twin_<name>, pinned-by-name maps) never touch the
// host's bpffs and vanish with the namespace.
import { afterAll, beforeAll, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import { compileBpfC } from "../differential/clang.ts";
import {
  eth,
  icmpEcho,
  inetChecksum,
  ipv4,
  ipv6,
  ipv6Icmp6Echo,
  tcp,
  udp,
  type Bytes,
} from "./frames.ts";

const here = resolve(import.meta.dirname);
const repo = resolve(here, "../..");
const XDP = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
const IP = 0x0800,
  IP6 = 0x86dd,
  Q = 0x8100,
  AD = 0x88a8;
const SYN = 0x02,
  ACK = 0x10,
  RST = 0x04;

interface Run {
  label: string;
  frame: Bytes;
  expect: number;
  out?: Bytes;
  repeat?: number;
}
interface Scenario {
  /** bpftool map subcommands run after load; `@name` is replaced by the map's `id N` handle. */
  setup?: string[];
  runs: Run[];
  /** Map lookups (`@name key …`) whose JSON the check receives, in order. */
  lookups?: string[];
  /** `seconds`: an upper bound on how long the scenario ran (time-dependent filters). */
  check?: (lookups: unknown[], seconds: number) => void;
}

const hex = (b: number[]): string => b.map((x) => x.toString(16).padStart(2, "0")).join(" ");

/** Sum over CPUs of the little-endian u64 at `off` in a per-CPU lookup result. */
function perCpuU64(lookup: unknown, off = 0): number {
  const values = (lookup as { values: { value: string[] }[] }).values;
  let sum = 0;
  for (const v of values) {
    const b = v.value.map((x) => parseInt(x, 16));
    let v64 = 0;
    for (let i = 7; i >= 0; i--) v64 = v64 * 256 + b[off + i]!;
    sum += v64;
  }
  return sum;
}

/** The ICMP echo reply the filter must produce for an IPv4 request, computed from scratch. */
function expectedV4Reply(
  tags: [number, number][],
  src: string,
  dst: string,
  id: number,
  seq: number,
): Bytes {
  const e = eth(IP, tags);
  const swapped = [...e.slice(6, 12), ...e.slice(0, 6), ...e.slice(12)];
  return [
    ...swapped,
    ...ipv4({ src: dst, dst: src, proto: 1, ttl: 64 }, icmpEcho(0, id, seq, [1, 2, 3, 4])),
  ];
}

const frames = {
  v4udp: (
    src: string,
    sport: number,
    dport: number,
    data: Bytes = [],
    tags: [number, number][] = [],
  ) => [...eth(IP, tags), ...ipv4({ src, dst: "198.18.0.2", proto: 17 }, udp(sport, dport, data))],
  v4tcp: (src: string, dport: number, flags: number, tags: [number, number][] = []) => [
    ...eth(IP, tags),
    ...ipv4({ src, dst: "198.18.0.2", proto: 6 }, tcp(40000, dport, flags)),
  ],
  v6udp: (src: string, sport: number, dport: number, data: Bytes = []) => [
    ...eth(IP6),
    ...ipv6(src, "2001:db8:ffff::2", 17, udp(sport, dport, data)),
  ],
};

const dnsQuery = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
const dnsResponse = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];

const scenarios: Record<string, Scenario> = {
  lpm_firewall: {
    setup: [
      // 198.18.7.0/24 → rule 7 (address in network order after prefixlen)
      "update pinned /sys/fs/bpf/blocklist4 key hex 18 00 00 00 c6 12 07 00 value hex 07 00 00 00",
      // 2001:db8::/32 → rule 3
      "update pinned /sys/fs/bpf/blocklist6 key hex 20 00 00 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 00 value hex 03 00 00 00",
    ],
    runs: [
      { label: "blocked v4 source", frame: frames.v4udp("198.18.7.9", 1, 2), expect: XDP.DROP },
      { label: "other v4 source", frame: frames.v4udp("198.18.8.9", 1, 2), expect: XDP.PASS },
      {
        label: "blocked source behind 802.1Q",
        frame: frames.v4udp("198.18.7.1", 1, 2, [], [[Q, 5]]),
        expect: XDP.DROP,
      },
      {
        label: "blocked source behind QinQ",
        frame: frames.v4udp(
          "198.18.7.1",
          1,
          2,
          [],
          [
            [AD, 5],
            [Q, 6],
          ],
        ),
        expect: XDP.DROP,
      },
      {
        label: "three tags: not IPv4",
        frame: frames.v4udp(
          "198.18.7.1",
          1,
          2,
          [],
          [
            [AD, 5],
            [Q, 6],
            [Q, 7],
          ],
        ),
        expect: XDP.PASS,
      },
      {
        label: "ihl 4: not IPv4",
        frame: (() => {
          const f = frames.v4udp("198.18.7.9", 1, 2);
          f[14] = 0x44;
          return f;
        })(),
        expect: XDP.PASS,
      },
      {
        label: "version 6 in an IPv4 EtherType",
        frame: (() => {
          const f = frames.v4udp("198.18.7.9", 1, 2);
          f[14] = 0x65;
          return f;
        })(),
        expect: XDP.PASS,
      },
      {
        label: "ihl 6 truncated",
        frame: [
          ...eth(IP),
          ...ipv4({ src: "198.18.7.9", dst: "198.18.0.2", proto: 17, ihl: 6 }, []),
        ].slice(0, 14 + 22),
        expect: XDP.PASS,
      },
      { label: "blocked v6 source", frame: frames.v6udp("2001:db8::1", 1, 2), expect: XDP.DROP },
      { label: "other v6 source", frame: frames.v6udp("2001:db9::1", 1, 2), expect: XDP.PASS },
    ],
    lookups: ["@ruleStats key 7 0 0 0", "@ruleStats key 3 0 0 0"],
    check: ([r7, r3]) => {
      expect(perCpuU64(r7, 0)).toBe(3);
      expect(perCpuU64(r3, 0)).toBe(1);
      expect(perCpuU64(r3, 8)).toBe(frames.v6udp("2001:db8::1", 1, 2).length);
    },
  },
  dns_policy: {
    setup: ["update @portPolicy key 19 0 0 0 value 1"],
    runs: [
      { label: "denied port", frame: frames.v4udp("198.18.0.1", 5000, 19), expect: XDP.DROP },
      {
        label: "denied port, first fragment flag only",
        frame: [
          ...eth(IP),
          ...ipv4(
            { src: "198.18.0.1", dst: "198.18.0.2", proto: 17, flagsFrag: 0x2000 },
            udp(1, 19),
          ),
        ],
        expect: XDP.DROP,
      },
      {
        label: "denied port in a non-first fragment: no UDP header",
        frame: [
          ...eth(IP),
          ...ipv4(
            { src: "198.18.0.1", dst: "198.18.0.2", proto: 17, flagsFrag: 0x0010 },
            udp(1, 19),
          ),
        ],
        expect: XDP.PASS,
      },
      {
        label: "TCP to a denied UDP port",
        frame: frames.v4tcp("198.18.0.1", 19, SYN),
        expect: XDP.PASS,
      },
      {
        label: "DNS query",
        frame: frames.v4udp("198.18.0.1", 5000, 53, dnsQuery),
        expect: XDP.PASS,
      },
      {
        label: "DNS query behind two tags",
        frame: frames.v4udp("198.18.0.1", 5000, 53, dnsQuery, [
          [AD, 1],
          [Q, 2],
        ]),
        expect: XDP.PASS,
      },
      {
        label: "short DNS query",
        frame: frames.v4udp("198.18.0.1", 5000, 53, dnsQuery.slice(0, 11)),
        expect: XDP.DROP,
      },
      {
        label: "response sent to port 53",
        frame: frames.v4udp("198.18.0.1", 5000, 53, dnsResponse),
        expect: XDP.DROP,
      },
      {
        label: "response to port 53 behind a tag",
        frame: frames.v4udp("198.18.0.1", 5000, 53, dnsResponse, [[Q, 2]]),
        expect: XDP.DROP,
      },
      {
        label: "small DNS response",
        frame: frames.v4udp("198.18.0.1", 53, 5000, dnsResponse),
        expect: XDP.PASS,
      },
      {
        label: "oversized DNS response",
        frame: frames.v4udp("198.18.0.1", 53, 5000, [...dnsResponse, ...Array(1300).fill(0)]),
        expect: XDP.DROP,
      },
      {
        label: "IPv6 DNS query",
        frame: frames.v6udp("2001:db8::1", 5000, 53, dnsQuery),
        expect: XDP.PASS,
      },
      {
        label: "IPv6 response to port 53",
        frame: frames.v6udp("2001:db8::1", 5000, 53, dnsResponse),
        expect: XDP.DROP,
      },
    ],
    lookups: [
      "@counters key 0 0 0 0",
      "@counters key 1 0 0 0",
      "@counters key 2 0 0 0",
      "@counters key 3 0 0 0",
      "@counters key 4 0 0 0",
    ],
    check: (l) => expect(l.map((x) => perCpuU64(x))).toEqual([4, 2, 1, 3, 1]),
  },
  syn_guard: {
    runs: [
      { label: "first SYN", frame: frames.v4tcp("198.18.1.1", 80, SYN), expect: XDP.PASS },
      {
        label: "flood from one source",
        frame: frames.v4tcp("198.18.1.1", 80, SYN),
        expect: XDP.DROP,
        repeat: 400,
      },
      {
        label: "SYN-ACKs are not limited",
        frame: frames.v4tcp("198.18.1.1", 80, SYN | ACK),
        expect: XDP.PASS,
        repeat: 400,
      },
      { label: "another source", frame: frames.v4tcp("198.18.1.2", 80, SYN), expect: XDP.PASS },
    ],
    lookups: ["@stats key 0 0 0 0", "@stats key 1 0 0 0"],
    check: ([passed, dropped], seconds) => {
      // 200 tokens (burst) for the first source, plus those refilled at 100/s while the
      // scenario ran: however slow the machine, never more than that.
      expect(perCpuU64(passed)).toBeGreaterThanOrEqual(201);
      expect(perCpuU64(passed)).toBeLessThanOrEqual(201 + Math.ceil(100 * seconds));
      expect(perCpuU64(passed) + perCpuU64(dropped)).toBe(402);
    },
  },
  icmp_echo: {
    runs: [
      {
        label: "echo request → reply",
        frame: [
          ...eth(IP),
          ...ipv4(
            { src: "198.18.0.1", dst: "198.18.0.2", proto: 1, ttl: 17 },
            icmpEcho(8, 0x4242, 7, [1, 2, 3, 4]),
          ),
        ],
        expect: XDP.TX,
        out: expectedV4Reply([], "198.18.0.1", "198.18.0.2", 0x4242, 7),
      },
      {
        label: "tagged echo request → reply",
        frame: [
          ...eth(IP, [[Q, 9]]),
          ...ipv4(
            { src: "198.18.0.1", dst: "198.18.0.2", proto: 1, ttl: 255 },
            icmpEcho(8, 1, 0xffff, [1, 2, 3, 4]),
          ),
        ],
        expect: XDP.TX,
        out: expectedV4Reply([[Q, 9]], "198.18.0.1", "198.18.0.2", 1, 0xffff),
      },
      {
        label: "echo reply passes",
        frame: [
          ...eth(IP),
          ...ipv4({ src: "198.18.0.1", dst: "198.18.0.2", proto: 1 }, icmpEcho(0, 1, 1)),
        ],
        expect: XDP.PASS,
      },
      {
        label: "fragmented echo passes",
        frame: [
          ...eth(IP),
          ...ipv4(
            { src: "198.18.0.1", dst: "198.18.0.2", proto: 1, flagsFrag: 0x2000 },
            icmpEcho(8, 1, 1),
          ),
        ],
        expect: XDP.PASS,
      },
      {
        label: "ICMPv6 echo request → reply",
        frame: [...eth(IP6), ...ipv6Icmp6Echo("2001:db8::1", "2001:db8::2", 128, 9, 9, [5, 6])],
        expect: XDP.TX,
        out: (() => {
          const e = eth(IP6);
          const body = ipv6Icmp6Echo("2001:db8::2", "2001:db8::1", 129, 9, 9, [5, 6]);
          return [...e.slice(6, 12), ...e.slice(0, 6), ...e.slice(12), ...body];
        })(),
      },
    ],
    lookups: ["@replies key 0 0 0 0", "@replies key 1 0 0 0"],
    check: ([v4, v6]) => expect([perCpuU64(v4), perCpuU64(v6)]).toEqual([2, 1]),
  },
  vlan_filter: {
    setup: ["update @blockedPorts key 23 0 value 1"],
    runs: [
      {
        label: "VLAN 100, port 80",
        frame: frames.v4tcp("198.18.0.1", 80, SYN, [[Q, 100]]),
        expect: XDP.PASS,
      },
      {
        label: "VLAN 100 with PCP bits, port 80",
        frame: frames.v4tcp("198.18.0.1", 80, SYN, [[Q, 0xa064]]),
        expect: XDP.PASS,
      },
      {
        label: "VLAN 100, blocked port",
        frame: frames.v4tcp("198.18.0.1", 23, SYN, [[Q, 100]]),
        expect: XDP.DROP,
      },
      {
        label: "VLAN 200",
        frame: frames.v4tcp("198.18.0.1", 80, SYN, [[Q, 200]]),
        expect: XDP.DROP,
      },
      {
        label: "802.1ad outer 100",
        frame: frames.v4udp(
          "198.18.0.1",
          1,
          80,
          [],
          [
            [AD, 100],
            [Q, 7],
          ],
        ),
        expect: XDP.PASS,
      },
      {
        label: "untagged UDP, blocked port",
        frame: frames.v4udp("198.18.0.1", 1, 23),
        expect: XDP.DROP,
      },
      {
        label: "untagged UDP, port 80",
        frame: frames.v4udp("198.18.0.1", 1, 80),
        expect: XDP.PASS,
      },
      { label: "truncated tag", frame: eth(Q).slice(0, 16), expect: XDP.PASS },
    ],
    lookups: ["@perVlan key 100 0 0 0", "@perVlan key 200 0 0 0", "@perVlan key 0 0 0 0"],
    check: ([v100, v200, v0]) => {
      expect([perCpuU64(v100, 0), perCpuU64(v100, 8)]).toEqual([3, 1]);
      expect([perCpuU64(v200, 0), perCpuU64(v200, 8)]).toEqual([0, 1]);
      expect([perCpuU64(v0, 0), perCpuU64(v0, 8)]).toEqual([2, 1]);
    },
  },
  tcp_events: {
    runs: [
      { label: "SYN", frame: frames.v4tcp("198.18.0.1", 80, SYN), expect: XDP.PASS },
      { label: "RST", frame: frames.v4tcp("198.18.0.1", 80, RST | ACK), expect: XDP.PASS },
      { label: "ACK", frame: frames.v4tcp("198.18.0.1", 80, ACK), expect: XDP.PASS },
    ],
  },
};

const twins = readdirSync(here)
  .filter((f) => f.endsWith(".c"))
  .map((f) => f.slice(0, -2))
  .sort();
let work = "";

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "xdpc-twins-"));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Compiles a twin as the differential tests do; returns the object path. */
export function compileTwin(name: string, outDir: string): string {
  const obj = join(outDir, `${name}.o`);
  writeFileSync(obj, compileBpfC({ path: join(here, `${name}.c`) }));
  return obj;
}

/** Loads the object in a private bpffs, runs the scenario, returns each step's output. */
function runScenario(
  name: string,
  obj: string,
  s: Scenario,
): { runs: { ret: number; out: Bytes }[]; lookups: unknown[] } {
  const pin = `/sys/fs/bpf/xdpc_twin_${name}`;
  const prog = `${pin}/${name}`;
  const mapRef = (cmd: string) => cmd.replace(/@(\w+)/g, (_, m: string) => `id $(mapid ${m})`);
  const lines = [
    "set -e",
    "mount -t bpf bpf /sys/fs/bpf",
    `bpftool prog loadall ${obj} ${pin}`,
    // A map of this program by name: its ids come from the program, so other maps in the
    // kernel with the same name cannot be confused with it.
    `mapid() { for id in $(bpftool -j prog show pinned ${prog} | grep -o '"map_ids":\\[[0-9,]*\\]' | grep -o '[0-9][0-9]*'); do` +
      ` if bpftool -j map show id $id | grep -q "\\"name\\":\\"$1\\""; then echo $id; return; fi; done; echo "no map $1" >&2; exit 1; }`,
    ...(s.setup ?? []).map((c) => `bpftool map ${mapRef(c)}`),
  ];
  s.runs.forEach((r, i) => {
    writeFileSync(join(work, `${name}.${i}.in`), Uint8Array.from(r.frame));
    lines.push(
      `echo "@@run ${i}"`,
      `bpftool prog run pinned ${prog} data_in ${work}/${name}.${i}.in data_out ${work}/${name}.${i}.out` +
        (r.repeat ? ` repeat ${r.repeat}` : ""),
    );
  });
  for (const l of s.lookups ?? [])
    lines.push(`echo "@@lookup"`, `bpftool -j map lookup ${mapRef(l)}`, "echo");
  lines.push(`rm -r ${pin}`, "umount /sys/fs/bpf");
  const script = join(work, `${name}.sh`);
  writeFileSync(script, lines.join("\n") + "\n");
  const stdout = execFileSync("unshare", ["-m", "--propagation", "private", "sh", script], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const runs = s.runs.map((_, i) => {
    const m = stdout.split(`@@run ${i}\n`)[1]?.match(/^Return value: (\d+)/);
    if (!m) throw new Error(`no result for run ${i} in:\n${stdout}`);
    return { ret: Number(m[1]), out: [...readFileSync(join(work, `${name}.${i}.out`))] };
  });
  const lookups = stdout
    .split("@@lookup\n")
    .slice(1)
    .map((t) => JSON.parse(t.trim()) as unknown);
  return { runs, lookups };
}

describeKernel("C twins of the example filters", () => {
  it("has a twin for every example filter, and a scenario for every twin", () => {
    const filters = readdirSync(join(repo, "filters")).filter(
      (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
    );
    expect(twins).toEqual(filters.map((f) => f.slice(0, -3)).sort());
    expect(Object.keys(scenarios).sort()).toEqual(twins);
  });

  for (const name of twins) {
    it(`${name}: compiles, passes the verifier and behaves as documented`, () => {
      const obj = compileTwin(name, work);
      const s = scenarios[name]!;
      const t0 = performance.now();
      const { runs, lookups } = runScenario(name, obj, s);
      const seconds = (performance.now() - t0) / 1000;
      s.runs.forEach((r, i) => {
        expect(runs[i]!.ret, r.label).toBe(r.expect);
        if (r.out) expect(hex(runs[i]!.out), r.label).toBe(hex(r.out));
      });
      s.check?.(lookups, seconds);
    });
  }

  it("the reply checksums the twin computes incrementally are valid from scratch", () => {
    const reply = expectedV4Reply([], "198.18.0.1", "198.18.0.2", 0x4242, 7);
    expect(inetChecksum(reply.slice(14, 34))).toBe(0);
    expect(inetChecksum(reply.slice(34))).toBe(0);
  });
});
