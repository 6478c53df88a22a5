import { readFileSync } from "node:fs";

// The example filters in filters/ that the whole-pipeline tests (golden output, CLI,
// differential against the C twins) cover, by name without `.ts`. Listed rather than
// read from the directory so that losing one fails those tests instead of skipping it.
export const EXAMPLE_FILTERS = [
  "dns_policy",
  "icmp_echo",
  "lpm_firewall",
  "syn_guard",
  "tcp_events",
  "vlan_filter",
] as const;

/** The filter of LANGUAGE.md §1, verbatim (kept once, in the parser's fixtures). */
export const SPEC_EXAMPLE = readFileSync(
  new URL("../syntax/fixtures/firewall.ts.txt", import.meta.url),
  "utf8",
);
