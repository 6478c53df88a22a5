// Reader for bpf_conformance `.data` files: `# comment` header, then `-- section` blocks
// (asm, raw, mem, result, error, c, and free-form notes such as `no register offset`).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface ConformanceCase {
  name: string;
  path: string;
  asm?: string;
  /** Program bytes from a `-- raw` block. */
  raw?: Uint8Array;
  mem: Uint8Array;
  /** Expected r0, as an unsigned 64-bit value. */
  result?: bigint;
  /** Present when the case expects a failure (possibly with an empty message). */
  error?: string;
  /** Section names this reader does not know (a negative case uses one). */
  unknownSections: string[];
}

const KNOWN = new Set(["asm", "raw", "mem", "result", "error", "c", "no register offset"]);

function hexBytes(text: string, what: string): Uint8Array {
  const out: number[] = [];
  for (const tok of text.split(/\s+/).filter(Boolean)) {
    if (/^0x[0-9a-f]{16}$/i.test(tok)) {
      // A whole instruction written as one little-endian 64-bit number.
      let v = BigInt(tok);
      for (let k = 0; k < 8; k++, v >>= 8n) out.push(Number(v & 0xffn));
    } else if (/^[0-9a-f]{2}$/i.test(tok)) out.push(parseInt(tok, 16));
    else throw new Error(`bad ${what} token ${tok}`);
  }
  return Uint8Array.from(out);
}

export function parseConformance(path: string, text = readFileSync(path, "utf8")): ConformanceCase {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    const m = /^-- (.*)$/.exec(line);
    if (m) {
      current = [];
      sections.set(m[1]!.trim(), current);
    } else if (current) current.push(line);
  }
  const body = (k: string) => sections.get(k)?.join("\n");
  const result = body("result")?.trim();
  const mem = body("mem");
  const raw = body("raw");
  return {
    name: path
      .split("/")
      .pop()!
      .replace(/\.data$/, ""),
    path,
    asm: body("asm"),
    raw: raw === undefined ? undefined : hexBytes(raw, "raw"),
    mem: mem === undefined ? new Uint8Array() : hexBytes(mem, "mem"),
    result: result ? BigInt.asUintN(64, BigInt(result)) : undefined,
    error: body("error")?.trim(),
    unknownSections: [...sections.keys()].filter((k) => !KNOWN.has(k)),
  };
}

export function loadConformanceDir(dir: string): ConformanceCase[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".data"))
    .sort()
    .map((f) => parseConformance(join(dir, f)));
}
