// Type-level tests of `xdpc/runtime`: `npm run typecheck` compiles this file, so every
// line below that should be refused carries @ts-expect-error (which fails when tsc
// accepts the line) and every other line must be accepted. Never executed.
import type * as Filter from "./blocklist.ts";
import type { Collection, MapHandle } from "../../runtime/control/api.ts";
import { ip, open } from "../../runtime/control/index.ts";

export function typed(coll: Collection<typeof Filter>): void {
  // LpmTrie<Ipv4Prefix, u64>: a struct key, a bigint value.
  coll.maps.blocked.update({ prefixlen: 24, addr: ip("198.18.1.0") }, 1n);
  const n: bigint | null = coll.maps.blocked.lookup({ prefixlen: 32, addr: 0 });
  // @ts-expect-error u64 values are bigints
  coll.maps.blocked.update({ prefixlen: 24, addr: 0 }, 1);
  // @ts-expect-error the key needs prefixlen
  coll.maps.blocked.update({ addr: 0 }, 1n);
  // HashMap<u32, Hit>: number keys, struct values with bigint fields.
  coll.maps.hits.update(ip("198.18.1.5"), { packets: 1n, bytes: 60n });
  const h = coll.maps.hits.lookup(1);
  if (h) {
    const p: bigint = h.packets;
    void p;
  }
  // @ts-expect-error u32 keys are numbers
  coll.maps.hits.lookup(1n);
  // @ts-expect-error a Hit has no field 'count'
  coll.maps.hits.update(1, { packets: 1n, bytes: 1n, count: 1n });
  // PerCpuArray<u64>: one bigint per CPU; arrays have no delete.
  const perCpu: bigint[] | null = coll.maps.seen.lookup(0);
  // @ts-expect-error array entries cannot be deleted
  coll.maps.seen.delete(0);
  // ArrayMap<u32>: numbers.
  coll.maps.limits.update(0, 100);
  // @ts-expect-error u32 values are numbers
  coll.maps.limits.update(0, 100n);
  // @ts-expect-error a ring buffer is not a map
  void coll.maps.drops;
  // @ts-expect-error no such map
  void coll.maps.missing;
  // Programs by name; ring buffers by name with typed records.
  void coll.programs.blocklist.attachXdp;
  // @ts-expect-error no such program
  void coll.programs.other;
  void (async () => {
    for await (const ev of coll.ringbuf("drops")) {
      const src: number = ev.record.src;
      void src;
    }
  })();
  // @ts-expect-error no such ring buffer
  void coll.ringbuf("hits");
  (void n, perCpu);
}

export function untyped(): void {
  // Without the filter's types every name is allowed and values are loosely typed.
  const coll = open("filter.o").load();
  const m: MapHandle<unknown, unknown> | undefined = coll.maps["anything"];
  void m;
  const typedSpec = open<typeof Filter>("blocklist.ts");
  void typedSpec.load({ params: { port: 53 } }).maps.hits;
}

export function params(): void {
  // load({ params }) takes the filter's exported parameters by name, typed.
  const spec = open<typeof Filter>("blocklist.ts");
  void spec.load({ params: { port: 53 } });
  void spec.load({});
  // @ts-expect-error no parameter 'prot'
  void spec.load({ params: { prot: 53 } });
  // @ts-expect-error port is a u16: a number, not a bigint
  void spec.load({ params: { port: 53n } });
  // @ts-expect-error an exported variable is not a parameter
  void spec.load({ params: { dropped: 1n } });
  const coll = spec.load();
  const p: number = coll.globals.port;
  // @ts-expect-error parameters are read-only once loaded
  coll.globals.port = 1;
  coll.globals.dropped = 5n;
  coll.globals.enabled = false;
  void p;
}
