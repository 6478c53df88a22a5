// For the test beside each example filter (filters/*.test.ts): build the filter with
// xdpc, load it in isolation and run frames through BPF_PROG_TEST_RUN. Kernel tests:
// `describeFilter` skips them with a reason without privileges, as describeKernel does.
import { afterAll, beforeAll } from "vitest";
import { readFileSync } from "node:fs";
import { compile, hasErrors } from "../../compiler/driver/index.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/render.ts";
import { TypedMap } from "../../runtime/observe/maps.ts";
import { describeKernel } from "./kernel.ts";
import { loadXdpObject, runXdp, type XdpObject, type XdpResult } from "./xdp.ts";

export interface LoadedFilter {
  bytes: Uint8Array;
  obj: XdpObject;
  run(...frames: Uint8Array[]): XdpResult[];
  map(name: string): TypedMap;
}

/** Builds filters/NAME.ts (throws with the rendered diagnostics when it does not build). */
export function buildFilter(name: string): Uint8Array {
  const file = `filters/${name}.ts`;
  const source = readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");
  const out = compile(source, { file, emit: "object" });
  if (hasErrors(out.diagnostics) || !out.object)
    throw new Error(out.diagnostics.map((d) => renderDiagnostic(d, source)).join("\n"));
  return out.object;
}

/** A describe block with filters/NAME.ts built and loaded once; `f()` gives it to the tests. */
export function describeFilter(name: string, body: (f: () => LoadedFilter) => void): void {
  describeKernel(`filters/${name}.ts`, () => {
    let loaded: LoadedFilter | undefined;
    const maps: TypedMap[] = [];
    beforeAll(() => {
      const bytes = buildFilter(name);
      const obj = loadXdpObject(bytes, { name });
      loaded = {
        bytes,
        obj,
        run: (...frames) => runXdp(obj.programFd(), frames),
        map: (m) => {
          const t = TypedMap.fromObject(obj.object, bytes, m);
          maps.push(t);
          return t;
        },
      };
    });
    afterAll(() => {
      for (const m of maps) m.close();
      loaded?.obj.close();
    });
    body(() => loaded!);
  });
}
