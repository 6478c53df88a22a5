import type { Command } from "commander";
import { decode } from "../../compiler/bpf/decode.ts";
import { formatListing, type ListingRelocation } from "../../compiler/bpf/disasm.ts";
import { type ObjectInfo } from "../../compiler/elf/object.ts";
import type { CommandImpl } from "./types.ts";
import { CliError } from "./errors.ts";
import { readObjectFile } from "./shared.ts";
import { EXIT } from "./errors.ts";

/** The listing of every program, grouped by section, with relocations and the filter's source lines. */
export function disassembleObject(info: ObjectInfo, path = "object"): string {
  const out: string[] = [];
  let section: string | undefined;
  for (const p of info.programs) {
    let insns;
    try {
      insns = decode(p.insns);
    } catch (e) {
      throw new CliError(
        `${path}: program ${p.name}: malformed instructions: ${(e as Error).message}`,
      );
    }
    const relocations = new Map<number, ListingRelocation>(
      p.relocations.map((r) => [
        r.insnIndex,
        { type: r.kind === "call" ? "R_BPF_64_32" : "R_BPF_64_64", symbol: r.target },
      ]),
    );
    const source = new Map<number, string>();
    // Line 0 marks compiler-generated code (clang emits it); there is no line to show.
    for (const l of p.lineInfo)
      if (l.line > 0) source.set(l.insnIndex, `${l.file}:${l.line}: ${l.lineText.trim()}`);
    if (p.section !== section) {
      if (section !== undefined) out.push("");
      out.push(`Disassembly of section ${p.section}:`);
      section = p.section;
    }
    out.push("", ...formatListing(insns, { symbols: new Map([[0, p.name]]), relocations, source }));
  }
  return out.join("\n") + "\n";
}

export const disasmCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd.argument("<object>", "eBPF ELF object (.o)");
  },
  async run(_cmd, args) {
    const { info } = readObjectFile(args[0] as string);
    if (info.programs.length === 0) throw new CliError(`${args[0]}: no programs in this object`);
    process.stdout.write(disassembleObject(info, args[0] as string));
    return EXIT.ok;
  },
};
