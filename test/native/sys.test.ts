// native/sys.ts, the chokepoint of foreign calls: while a fake is installed every
// registered operation goes to it, an operation it lacks throws instead of reaching
// the kernel, unknown names are refused, and removing the fake restores the real one.
import { expect, it } from "vitest";
import { fakeSys, sysOperations } from "../../native/sys.ts";
import { ifNameToIndex } from "../../native/ifname.ts";
import { mapInfo } from "../../native/info.ts";
import "../support/fakesys.ts"; // registers every native module

it("operations are dispatched to the fake, and only to it", () => {
  const restore = fakeSys({ ifNameToIndex: (n: string) => (n === "hrt0" ? 3 : 0) });
  try {
    expect(ifNameToIndex("hrt0")).toBe(3);
    expect(() => mapInfo(0)).toThrow("fake kernel: native operation mapInfo is not faked");
  } finally {
    restore();
  }
  expect(ifNameToIndex("lo")).toBe(1); // the real libc again
});

it("a fake for an unknown operation is refused", () => {
  expect(() => fakeSys({ nosuch: () => 0 })).toThrow("fakeSys: no native operation nosuch");
});

it("every FFI operation the runtime uses is registered", () => {
  expect(sysOperations()).toEqual(
    expect.arrayContaining([
      "enterNetns",
      "ifNameToIndex",
      "kernelBtfBytes",
      "mapLookupBatch",
      "mapRing",
      "rxQueueCount",
      "withSignalsBlocked",
      "xskBind",
      "xskSocket",
    ]),
  );
});
