// runtime/lab/netns.ts against the fake kernel of test/support/fakesys.ts: interface
// lookups in the calling thread's namespace go through if_nametoindex (not sysfs),
// and entering a namespace that does not exist is a LabError before any setns.
import { afterEach, beforeEach, expect, it } from "vitest";
import { ifindex, LabError, linkExists, runInNetns } from "../../runtime/lab/netns.ts";
import { FakeKernel } from "../support/fakesys.ts";

let k: FakeKernel;
let uninstall: () => void;
beforeEach(() => {
  k = new FakeKernel();
  uninstall = k.install();
});
afterEach(() => uninstall());

it("ifindex and linkExists ask the calling thread's namespace", () => {
  k.links.set("hrt-a", 12);
  expect(ifindex("hrt-a")).toBe(12);
  expect(linkExists("hrt-a")).toBe(true);
  expect(linkExists("hrt-b")).toBe(false);
  expect(() => ifindex("hrt-b")).toThrow(LabError);
  expect(() => ifindex("hrt-b")).toThrow("no network interface 'hrt-b'");
});

it("runInNetns refuses a namespace that does not exist, without entering anything", () => {
  let ran = false;
  expect(() => runInNetns("hrt-none-such", () => (ran = true))).toThrow(
    "no network namespace 'hrt-none-such'",
  );
  expect(ran).toBe(false);
  expect(k.entered).toEqual([]);
});
