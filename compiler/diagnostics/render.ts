import { formatCode, type Diagnostic } from "./diagnostic.ts";
import { LineMap, spanEnd } from "./span.ts";

/** `path:line:col: error XDPnnnn: message`, the source line, and a caret span — as tsc prints. */
export function renderDiagnostic(
  d: Diagnostic,
  source: string | undefined,
  lines?: LineMap,
): string {
  const map = lines ?? (source !== undefined ? new LineMap(source) : undefined);
  if (!map) return `${d.file}: ${d.severity} ${formatCode(d.code)}: ${d.message}`;
  const { line, col } = map.lineCol(d.span.start);
  const head = `${d.file}:${line}:${col}: ${d.severity} ${formatCode(d.code)}: ${d.message}`;
  const text = map.lineText(line);
  const end = map.lineCol(spanEnd(d.span));
  const caretLen =
    end.line === line ? Math.max(1, end.col - col) : Math.max(1, text.length - col + 1);
  const gutter = String(line);
  const pad = " ".repeat(gutter.length);
  // Tabs keep their width in the caret line so the carets line up.
  const lead = text.slice(0, col - 1).replace(/[^\t]/g, " ");
  let out = `${head}\n\n${gutter} | ${text}\n${pad} | ${lead}${"~".repeat(caretLen)}\n`;
  for (const r of d.related ?? []) {
    const rl = map.lineCol(r.span.start);
    out += `  ${r.file ?? d.file}:${rl.line}:${rl.col}: ${r.message}\n`;
  }
  return out;
}

export interface JsonDiagnostic {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  start: number;
  length: number;
  severity: string;
  code: string;
  message: string;
}

export function diagnosticToJson(d: Diagnostic, source: string | undefined): JsonDiagnostic {
  const map = source !== undefined ? new LineMap(source) : undefined;
  const s = map?.lineCol(d.span.start) ?? { line: 0, col: 0 };
  const e = map?.lineCol(spanEnd(d.span)) ?? { line: 0, col: 0 };
  return {
    file: d.file,
    line: s.line,
    column: s.col,
    endLine: e.line,
    endColumn: e.col,
    start: d.span.start,
    length: d.span.length,
    severity: d.severity,
    code: formatCode(d.code),
    message: d.message,
  };
}
