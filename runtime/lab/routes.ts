// A namespace's IPv4 forwarding state as the route table the Wasm host's fib_lookup
// takes (runtime/wasm/fib.ts): `ip -j link`, `ip -4 -j route show table all` and
// `ip -4 -j neigh`, plus each interface's net.ipv4.conf.<dev>.forwarding. The file
// `xdpc test --routes` reads is this object as JSON.
import { readFileSync } from "node:fs";
import { ip, runInNetns } from "./netns.ts";
import type { Route, RouteTable } from "../wasm/fib.ts";

const json = (ns: string, ...args: string[]) =>
  JSON.parse(ip("-n", ns, "-j", ...args) || "[]") as Record<string, unknown>[];

/** Table names iproute2 prints for the tables the host models (others are left out). */
const MODELLED = new Set(["main", "local", "default"]);

export function routeTableOf(ns: string): RouteTable {
  const links = json(ns, "link", "show");
  const forwarding = (dev: string) =>
    runInNetns(ns, () =>
      readFileSync(`/proc/sys/net/ipv4/conf/${dev}/forwarding`, "utf8").trim(),
    ) === "1";
  return {
    interfaces: links.map((l) => ({
      ifindex: l.ifindex as number,
      ifname: l.ifname as string,
      address: (l.address as string | undefined) ?? "00:00:00:00:00:00",
      mtu: l.mtu as number,
      forwarding: forwarding(l.ifname as string),
    })),
    routes: json(ns, "-4", "route", "show", "table", "all")
      .filter((r) => MODELLED.has((r.table as string | undefined) ?? "main"))
      .map((r) => {
        const out: Route = { dst: r.dst as string };
        for (const k of ["dev", "gateway", "type", "table", "metric"] as const)
          if (r[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = r[k];
        return out;
      }),
    neighbours: json(ns, "-4", "neigh", "show").map((n) => ({
      dst: n.dst as string,
      dev: n.dev as string,
      ...(n.lladdr !== undefined ? { lladdr: n.lladdr as string } : {}),
      state: n.state as string[],
    })),
  };
}
