// A generic pre-order walk over AST nodes (used by syntactic pre-scans: which
// locals a loop assigns, which functions may adjust the packet).
import type * as ast from "../ast/nodes.ts";

/** Calls `visit` on every node under (and including) root; return false to skip a subtree. */
export function walk(root: ast.Node, visit: (n: ast.Node) => boolean | void): void {
  const go = (v: unknown): void => {
    if (!v || typeof v !== "object") return;
    if (Array.isArray(v)) {
      for (const x of v) go(x);
      return;
    }
    const node = v as ast.Node;
    if (typeof node.kind !== "string") return;
    if (visit(node) === false) return;
    for (const k in node) if (k !== "span") go((node as unknown as Record<string, unknown>)[k]);
  };
  go(root);
}

/** Context methods that change packet data for the verifier (it drops packet pointers). */
export const PACKET_CHANGING = [
  "adjustHead",
  "adjustTail",
  "changeHead",
  "changeTail",
  "l3CsumReplace",
  "l4CsumReplace",
  "storeBytes",
];
