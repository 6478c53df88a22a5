import type { Span } from "./span.ts";
import { messages, type MessageDef, type MessageId } from "./codes.ts";

export type Severity = "error" | "warning";

export interface Related {
  message: string;
  span: Span;
  file?: string;
}

export interface Diagnostic {
  readonly code: number; // XDPnnnn
  readonly severity: Severity;
  readonly message: string;
  readonly file: string;
  readonly span: Span;
  readonly related?: readonly Related[];
}

/**
 * Builds a diagnostic from the message table. `args` fill `{0}`, `{1}`, … in the
 * template, so every message text lives in codes.ts.
 */
export function diag(
  id: MessageId,
  file: string,
  at: Span,
  args: readonly (string | number | bigint)[] = [],
  related?: Related[],
): Diagnostic {
  const m: MessageDef = messages[id];
  const message = m.text.replace(/\{(\d+)\}/g, (_, i: string) => String(args[Number(i)] ?? ""));
  return { code: m.code, severity: m.severity ?? "error", message, file, span: at, related };
}

/** Collects diagnostics for one file; phases append and keep going. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  constructor(readonly file: string) {}
  add(id: MessageId, at: Span, ...args: (string | number | bigint)[]): Diagnostic {
    const d = diag(id, this.file, at, args);
    this.items.push(d);
    return d;
  }
  push(d: Diagnostic): void {
    this.items.push(d);
  }
  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }
}

export function formatCode(code: number): string {
  return `XDP${String(code).padStart(4, "0")}`;
}
