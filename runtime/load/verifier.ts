// The kernel verifier's log → a diagnostic at the filter source line it refers to.
// The object's BTF line info makes the kernel print `; <source text> @ file:LINE`
// before the instructions of each line; the rejected instruction is the last one
// the log shows, and the verifier's own message follows it.
import { diag, type Diagnostic } from "../../compiler/diagnostics/diagnostic.ts";
import type { ObjectInfo } from "../../compiler/elf/object.ts";
import type { LoadError } from "../../native/object.ts";
import { LoaderError } from "./errors.ts";

export interface VerifierReport {
  /** The verifier's message (its last lines before the statistics, joined with "; "). */
  message: string;
  /** Index of the rejected instruction (the last one the log shows). */
  insn?: number;
  /** The source line the log names for that instruction. */
  file?: string;
  line?: number;
  lineText?: string;
}

const INSN = /^(\d+): \([0-9a-f]{2}\)/;
const SOURCE = /^; (.*) @ (.+):(\d+)$/;
const NOISE = [
  /^processed \d+ insns/,
  /^verification time/,
  /^stack depth/,
  /^\d+: R\d/, // register state
  /^\d+: \(/, // instruction
  /^from \d+ to \d+:/,
  /^; /,
  /^Func#|^func#|^Live regs|^last_idx|^regs=|^parent /,
  /^-- BEGIN PROG LOAD LOG --|^-- END PROG LOAD LOG --/,
];

export function parseVerifierLog(log: string): VerifierReport {
  const lines = log.split("\n").map((l) => l.trimEnd());
  let insnAt = -1;
  let insn: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const m = INSN.exec(lines[i]!);
    if (m) {
      insnAt = i;
      insn = Number(m[1]);
    }
  }
  let file: string | undefined;
  let line: number | undefined;
  let lineText: string | undefined;
  for (let i = insnAt; i >= 0; i--) {
    const m = SOURCE.exec(lines[i]!);
    if (m) {
      lineText = m[1];
      file = m[2];
      line = Number(m[3]);
      break;
    }
  }
  const msgs: string[] = [];
  for (const l of lines.slice(insnAt + 1)) {
    if (!l.trim() || NOISE.some((re) => re.test(l))) continue;
    msgs.push(l.trim());
  }
  // Without any instruction (a program too large to walk, a bad BTF), the whole tail is the message.
  if (!msgs.length) {
    const tail = lines.filter(
      (l) => l.trim() && !/^processed \d+ insns|^verification time/.test(l),
    );
    if (tail.length) msgs.push(tail[tail.length - 1]!.trim());
  }
  return {
    message: msgs.join("; ") || "rejected (the kernel gave no message)",
    insn,
    file,
    line,
    lineText,
  };
}

export interface VerifierDiagnostic {
  diagnostic: Diagnostic;
  /** Text to render the diagnostic against: the filter source, or one rebuilt from line info. */
  source: string;
}

/**
 * A diagnostic `file:line:col: error XDP5001: <verifier message>` for a rejected
 * program. `source` is the filter text when the caller has it (a .ts input); for an
 * object file the line text comes from its BTF line info (or the log itself), so
 * the code frame still shows the offending line.
 */
export function verifierDiagnostic(
  log: string,
  opts: { program: string; object?: ObjectInfo; file?: string; source?: string },
): VerifierDiagnostic {
  const r = parseVerifierLog(log);
  const prog = opts.object?.programs.find((p) => p.name === opts.program);
  // Prefer the object's line info for the rejected instruction (it carries the column).
  let li =
    prog && r.insn !== undefined
      ? [...prog.lineInfo].reverse().find((l) => l.insnIndex <= r.insn!)
      : undefined;
  if (li && r.line !== undefined && li.line !== r.line) {
    li =
      prog!.lineInfo.find((l) => l.line === r.line && (!r.file || l.file === r.file)) ?? undefined;
  }
  const file = li?.file ?? r.file;
  const line = li?.line ?? r.line;
  if (file === undefined || line === undefined) {
    const d = diag("VerifierRejectedNoLine", opts.file ?? "<object>", { start: 0, length: 0 }, [
      opts.program,
      r.message,
    ]);
    return { diagnostic: d, source: "" };
  }
  const lineText = li?.lineText || r.lineText || "";
  const shownFile = opts.file && sameFile(opts.file, file) ? opts.file : file;
  const given =
    opts.source !== undefined && sameFile(opts.file ?? "", file) ? opts.source : undefined;
  const source =
    given !== undefined && given.split("\n").length >= line
      ? given
      : "\n".repeat(line - 1) + lineText + "\n";
  const text = source.split("\n")[line - 1] ?? "";
  let start = 0;
  for (let i = 0; i < line - 1; i++) start = source.indexOf("\n", start) + 1;
  // Column from line info when present; else the first non-blank character.
  const col = li?.col ? li.col - 1 : Math.max(0, text.search(/\S/));
  const length = Math.max(1, text.trimEnd().length - col);
  const d = diag("VerifierRejected", shownFile, { start: start + col, length }, [r.message]);
  return { diagnostic: d, source };
}

/**
 * libbpf's LoadError → the verifier's rejection of `program` as a LoaderError with its
 * diagnostic (the one place a verifier log becomes one: `xdpc load` and `xdpc test`
 * both come here), or undefined when the kernel left no log for it (libbpf refused the
 * object before the verifier ran; the caller words that).
 */
export function verifierRejection(
  e: LoadError,
  opts: { program: string; object?: ObjectInfo; file?: string; source?: string },
): LoaderError | undefined {
  const log = e.logs[opts.program] ?? e.log;
  if (!log.trim()) return undefined;
  const { diagnostic, source } = verifierDiagnostic(log, opts);
  return new LoaderError(
    `the kernel verifier rejected '${opts.program}'; nothing was changed`,
    "verifier",
    [diagnostic],
    source,
  );
}

function sameFile(a: string, b: string): boolean {
  if (!a || !b) return false;
  const base = (p: string) => p.split("/").pop();
  return a === b || a.endsWith("/" + b) || b.endsWith("/" + a) || base(a) === base(b);
}
