// Map contents and load-time parameters that make the example filters' interesting
// paths reachable (lookup hits, drops, exhausted token buckets), applied the same
// way to xdpc's build and to the clang twin. Shared by the differential test
// (test/codegen/twins-diff.test.ts) and the benchmarks (bench/), so that both
// compare the same paths.
import { mapUpdate, type LoadedObject } from "../../native/object.ts";
import type { XdpObject } from "./xdp.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);

/** Per filter: populates maps after load (same on both sides). */
export const twinSetups: Record<string, (o: XdpObject) => void> = {
  lpm_firewall: (o) => {
    // Keys: prefixlen (LE), then the address in network order.
    mapUpdate(o.mapFd("blocklist4"), bytes(24, 0, 0, 0, 198, 18, 7, 0), bytes(7, 0, 0, 0));
    mapUpdate(o.mapFd("blocklist4"), bytes(32, 0, 0, 0, 198, 18, 0, 1), bytes(5, 0, 0, 0));
    mapUpdate(
      o.mapFd("blocklist6"),
      bytes(32, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8, ...new Array(12).fill(0)),
      bytes(3, 0, 0, 0),
    );
  },
  dns_policy: (o) => {
    mapUpdate(o.mapFd("portPolicy"), bytes(25, 0, 0, 0), bytes(1));
    mapUpdate(o.mapFd("portPolicy"), bytes(53, 0, 0, 0), bytes(2));
  },
  vlan_filter: (o) => {
    mapUpdate(o.mapFd("blockedPorts"), bytes(23, 0), bytes(1));
    mapUpdate(o.mapFd("blockedPorts"), bytes(80, 0), bytes(1));
  },
};

/** Per filter: sets load-time parameters (`.rodata`) between open and load. */
export const twinBeforeLoad: Record<string, (o: LoadedObject) => void> = {
  // syn_guard: rate 1/s, burst 2, so repeated SYNs run out of tokens.
  syn_guard: (o) =>
    o.setInitialValue(
      o.mapNames().find((m) => m.endsWith(".rodata"))!,
      bytes(1, 0, 0, 0, 2, 0, 0, 0),
    ),
};
