// ctx.storeBytes (bpf_skb_store_bytes) in xdpc's object against the clang -O2 twin
// (test/tc/store_bytes.c) under the kernel's skb test run, in the Wasm host against the
// kernel (actions, bytes, mark, priority), and the checker's rules for it.
import { expect, it } from "vitest";
import { compile } from "../../compiler/driver/index.ts";
import { describeKernel } from "../support/kernel.ts";
import { build } from "../../runtime/packets/build.ts";
import { clangUnavailableReason } from "../differential/clang.ts";
import { loadCorpus, samplePackets } from "../support/corpus.ts";
import { buildTc, expectTwinAgrees, expectWasmAgrees } from "./support.ts";

const STORE_BYTES_TS = `
import { TcContext, TcAction, TC_ACT_OK, TC_ACT_SHOT, FixedArray, u8, u16, u32 } from "xdpc";
interface Macs { dst: FixedArray<u8, 6>; src: FixedArray<u8, 6> }
interface Tag { kind: u16; value: u32 }
export function store_bytes(ctx: TcContext): TcAction {
  const eth = ctx.eth();
  if (eth === null) return TC_ACT_OK;
  const macs: Macs = { dst: [2, 0, 0x5e, 0, 0x2e, 1], src: [2, 0, 0x5e, 0, 0x2e, (eth.proto & 0xff) as u8] };
  if (!ctx.storeBytes(0, macs, { invalidateHash: true })) return TC_ACT_SHOT;
  let m: u32 = 0;
  const ip = ctx.ipv4();
  if (ip !== null) {
    if (ctx.storeBytes(ctx.len - 20, ip, { recomputeCsum: true })) m = m | 1;
    const again = ctx.ipv4();
    if (again !== null) ctx.priority = again.ttl;
  }
  const t: Tag = { kind: 0x1234, value: ctx.len };
  if (ctx.storeBytes(ctx.len - 8, t)) m = m | 2;
  if (ctx.storeBytes(ctx.len - 7, t)) m = m | 4;
  if (ctx.storeBytes(0x80000000, t)) m = m | 8;
  ctx.mark = m | (ctx.hash << 8);
  return TC_ACT_OK;
}`;

const built = () => buildTc(STORE_BYTES_TS, "store_bytes.ts");

/** IPv4 (UDP, TCP, VLAN-tagged, a bare 34-byte header), IPv6, ARP-sized frames, the corpus. */
function packets() {
  const list = [
    build({ l3: { kind: "ipv4" }, l4: { kind: "udp", dport: 53 } }),
    build({ l3: { kind: "ipv4", ttl: 9 }, l4: { kind: "tcp", dport: 443 } }),
    build({ eth: { vlans: [{ vid: 7 }] }, l3: { kind: "ipv4" }, l4: { kind: "udp", dport: 53 } }),
    build({ l3: { kind: "ipv6" }, l4: { kind: "udp", dport: 53 } }),
    build({ l3: { kind: "ipv4" } }).subarray(0, 34),
    new Uint8Array(14).fill(0xee),
  ].map((data, i) => ({ data, source: `crafted:${i}` }));
  return [
    ...list,
    ...samplePackets(loadCorpus().packets, 300, 13).filter(
      (p) => p.data.length >= 14 && p.data.length <= 3500,
    ),
  ];
}

describeKernel("ctx.storeBytes (bpf_skb_store_bytes) in the kernel", () => {
  const clang = clangUnavailableReason();
  it.skipIf(clang !== null)(`agrees with its clang -O2 twin${clang ? ` [${clang}]` : ""}`, () =>
    expectTwinAgrees(built().object, `${import.meta.dirname}/store_bytes.c`, packets()),
  );

  it("the Wasm host writes the same bytes, mark and priority as the kernel", () => {
    const runs = expectWasmAgrees(built(), "store_bytes", packets(), { hash: 0x77 });
    const marks = new Set(runs.map((w) => w.mark));
    const ran = runs.length;
    // IPv4 frames (header copied, tag stored) and the others (tag only); the hash the
    // host was given is cleared by invalidateHash, as the kernel's is.
    expect([...marks].sort()).toEqual([2, 3]);
    expect(ran).toBeGreaterThan(200);
  });
});

it("checks storeBytes's rules", () => {
  const d = (body: string, hook = "TcContext): TcAction") =>
    compile(
      `import { TcContext, TcAction, XdpContext, XdpAction, TC_ACT_OK, u32 } from "xdpc";\ninterface P { a: u32 }\nexport function f(ctx: ${hook} { ${body} }`,
      { file: "s.ts", emit: "object" },
    ).diagnostics.map((x) => `${x.code}: ${x.message}`);
  const p = "const p: P = { a: 1 };";
  expect(
    d(
      `${p} ctx.storeBytes(0, p, { recomputeCsum: true, invalidateHash: false }); return TC_ACT_OK;`,
    ),
  ).toEqual([]);
  expect(d("ctx.storeBytes(0, ctx.len); return TC_ACT_OK;")).toEqual([
    "3060: storeBytes() stores a struct, FixedArray or header view, not u32 (store8/16/32 store integers)",
  ]);
  expect(d(`${p} ctx.storeBytes(0, p, { csum: true }); return TC_ACT_OK;`)).toEqual([
    "3061: storeBytes()'s options are an object literal { recomputeCsum?, invalidateHash? } of constant booleans",
  ]);
  expect(d(`${p} ctx.storeBytes(0, p, { recomputeCsum: ctx.len > 3 }); return TC_ACT_OK;`)).toEqual(
    [
      "3061: storeBytes()'s options are an object literal { recomputeCsum?, invalidateHash? } of constant booleans",
    ],
  );
  expect(d(`${p} ctx.storeBytes(0, p); return 2;`, "XdpContext): XdpAction")).toEqual([
    "2041: XdpContext has no method 'storeBytes'",
  ]);
  // The helper changes packet data for the verifier: views taken before it are dead.
  expect(
    d(
      `${p} const ip = ctx.ipv4(); if (ip === null) return TC_ACT_OK; ctx.storeBytes(0, p); return ip.ttl;`,
    ),
  ).toEqual([expect.stringContaining("ctx.storeBytes()")]);
});
