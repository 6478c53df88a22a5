// Backend limits reported as diagnostics, not exceptions.
import { expect, it } from "vitest";
import { parse } from "../../compiler/syntax/index.ts";
import { check } from "../../compiler/check/index.ts";
import { compileToObjectSpec } from "../../compiler/bpf/compile.ts";

it("reports a stack frame over 512 bytes as XDP4002 on the program", () => {
  const source = `import { XdpContext, XdpAction, XDP_PASS, HashMap, FixedArray, u8, u32, zeroed } from "xdpc";
interface Big { a: FixedArray<u8, 300> }
const m = new HashMap<u32, Big>({ maxEntries: 4 });
export function big(ctx: XdpContext): XdpAction {
  const x = zeroed<Big>();
  const y = zeroed<Big>();
  m.update(1, x);
  m.update(2, y);
  return XDP_PASS;
}`;
  const checked = check(parse(source, "big.ts").program);
  expect(checked.diagnostics).toEqual([]);
  const r = compileToObjectSpec(checked, { source });
  expect(r.spec).toBeNull();
  expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([
    [4002, "'big' needs more than 512 bytes of stack"],
  ]);
});
