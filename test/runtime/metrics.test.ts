// The Prometheus endpoint scraped over 127.0.0.1 after BPF_PROG_TEST_RUN traffic:
// verdict counters, array counters, globals and kernel run counts, exact values.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { compile } from "../../compiler/driver/index.ts";
import { testRun } from "../../native/bpf.ts";
import { progInfo } from "../../native/info.ts";
import { TypedMap, programMaps } from "../../runtime/observe/maps.ts";
import {
  filterRegistry,
  parseListenAddress,
  serveMetrics,
  type MetricsServer,
} from "../../runtime/observe/metrics.ts";
import { describeKernel } from "../support/kernel.ts";
import { checkFdLeaks, loadXdpObject, type XdpObject } from "../support/xdp.ts";
import { concat, ethHeader, tcp4, udp4 } from "../../runtime/packets/build.ts";

/** `name{labels} value` lines of the exposition format → a lookup by "name{labels}". */
function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe("parseListenAddress", () => {
  it("defaults to loopback and parses host:port forms", () => {
    expect(parseListenAddress("9435")).toEqual({ host: "127.0.0.1", port: 9435 });
    expect(parseListenAddress(":9000")).toEqual({ host: "127.0.0.1", port: 9000 });
    expect(parseListenAddress("0.0.0.0:80")).toEqual({ host: "0.0.0.0", port: 80 });
    expect(parseListenAddress("[::1]:81")).toEqual({ host: "::1", port: 81 });
    expect(() => parseListenAddress("host:99999")).toThrow(/bad listen address/);
  });
});

describeKernel("Prometheus endpoint", () => {
  let bytes: Uint8Array;
  let obj: XdpObject;
  let server: MetricsServer;
  let progId: number;
  beforeAll(async () => {
    const path = "test/runtime/fixtures/observe.ts";
    const out = compile(readFileSync(new URL(`../../${path}`, import.meta.url), "utf8"), {
      file: path,
      emit: "object",
      verdictStats: true,
    });
    bytes = out.object!;
    obj = loadXdpObject(bytes);
    progId = progInfo(obj.programFd()).id;
    server = await serveMetrics(
      filterRegistry([{ iface: "test0", open: () => programMaps(progId) }]),
      "127.0.0.1:0",
    );
  });
  afterAll(async () => {
    await server?.close();
    obj?.close();
  });

  // Every scrape opens the program and its maps by id: none may stay open.
  checkFdLeaks("each");

  it("is bound to 127.0.0.1", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  });

  it("exports exact verdict, counter and run values", async () => {
    const prog = obj.programFd();
    TypedMap.fromObject(obj.object, bytes, "blocked").set("198.18.7.0/24", 2);
    const before = progInfo(prog).runCnt;
    const packets = [
      ...Array.from({ length: 5 }, () => udp4({ dport: 53 }, { src: "198.18.0.1" })), // pass, counts[1]
      ...Array.from({ length: 3 }, () => tcp4({}, { src: "198.18.7.7" })), // drop by rule 2
      concat(ethHeader({}, 0x0806), new Uint8Array(28)), // not IPv4: pass, counts[0]
    ];
    for (const p of packets) testRun(prog, p);
    const m = parseExposition(await (await fetch(server.url)).text());
    const l = 'iface="test0",program="observe"';
    expect(m.get(`xdpc_verdicts_total{${l},verdict="pass"}`)).toBe(6);
    expect(m.get(`xdpc_verdicts_total{${l},verdict="drop"}`)).toBe(3);
    expect(m.get(`xdpc_verdicts_total{${l},verdict="aborted"}`)).toBe(0);
    expect(m.get(`xdpc_map_value{${l},map="counts",key="0",field=""}`)).toBe(1);
    expect(m.get(`xdpc_map_value{${l},map="counts",key="1",field=""}`)).toBe(8);
    expect(m.get(`xdpc_map_value{${l},map="ruleHits",key="2",field=""}`)).toBe(3);
    expect(m.get(`xdpc_map_value{${l},map="ruleHits",key="3",field=""}`)).toBe(0);
    // Hash maps and LPM tries are not counters.
    expect(
      [...m.keys()].some((k) => k.includes('map="flows"') || k.includes('map="blocked"')),
    ).toBe(false);
    // Kernel BPF stats are on while the endpoint runs: every test run was counted.
    const runs = m.get(`xdpc_program_runs_total{${l},id="${progId}"}`)!;
    expect(BigInt(runs) - before).toBe(BigInt(packets.length));
    expect(m.get(`xdpc_program_run_seconds_total{${l},id="${progId}"}`)).toBeGreaterThan(0);
  });

  it("a target with nothing attached yields no series instead of failing the scrape", async () => {
    const reg = filterRegistry([{ iface: "gone0", open: () => programMaps(0x7ffffff0) }]);
    const text = await reg.metrics();
    expect(text).not.toContain('iface="gone0"');
  });
});
