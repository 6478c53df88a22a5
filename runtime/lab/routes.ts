// A namespace's forwarding state as the route table the Wasm host's fib_lookup takes
// (runtime/wasm/fib.ts): `ip -j addr` (links and their addresses), `ip -4 -j route show
// table all`, `ip -6 -j route show table all`, `ip -4 -j neigh` and `ip -6 -j neigh`, plus
// each interface's net.ipv4.conf.<dev>.forwarding and net.ipv6.conf.<dev>.forwarding,
// .mtu and .use_oif_addrs_only. The file `xdpc test --routes` reads is this object as JSON.
import { readFileSync } from "node:fs";
import { ip, runInNetns } from "./netns.ts";
import type { InterfaceAddress, Route, RouteTable } from "../wasm/fib.ts";

const json = (ns: string, ...args: string[]) =>
  JSON.parse(ip("-n", ns, "-j", ...args) || "[]") as Record<string, unknown>[];

/** The route fields the host reads (others, e.g. protocol, flags, pref, are left out). */
const ROUTE_KEYS = [
  "dev",
  "gateway",
  "type",
  "table",
  "metric",
  "prefsrc",
  "scope",
  "nexthops",
  "encap",
  "from",
  "nhid",
  "via",
] as const;
const ADDR_KEYS = [
  "family",
  "local",
  "prefixlen",
  "scope",
  "secondary",
  "tentative",
  "optimistic",
  "deprecated",
  "dadfailed",
  "temporary",
] as const;

export function routeTableOf(ns: string): RouteTable {
  const links = json(ns, "addr", "show");
  const sysctl = (path: string): string | undefined =>
    runInNetns(ns, () => {
      try {
        return readFileSync(`/proc/sys/net/${path}`, "utf8").trim();
      } catch {
        return undefined; // no such device config: IPv6 is off on it
      }
    });
  const routes = (family: "-4" | "-6"): Route[] =>
    json(ns, family, "route", "show", "table", "all").map((r) => {
      const out: Route = { dst: r.dst as string };
      if (family === "-6") out.family = "inet6";
      for (const k of ROUTE_KEYS)
        if (r[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = r[k];
      return out;
    });
  const neighbours = (family: "-4" | "-6") =>
    json(ns, family, "neigh", "show").map((n) => ({
      dst: n.dst as string,
      dev: n.dev as string,
      ...(n.lladdr !== undefined ? { lladdr: n.lladdr as string } : {}),
      state: n.state as string[],
    }));
  return {
    interfaces: links.map((l) => {
      const dev = l.ifname as string;
      const mtu6 = sysctl(`ipv6/conf/${dev}/mtu`);
      return {
        ifindex: l.ifindex as number,
        ifname: dev,
        address: (l.address as string | undefined) ?? "00:00:00:00:00:00",
        mtu: l.mtu as number,
        forwarding: sysctl(`ipv4/conf/${dev}/forwarding`) === "1",
        forwarding6: sysctl(`ipv6/conf/${dev}/forwarding`) === "1",
        ...(mtu6 !== undefined ? { mtu6: Number(mtu6) } : {}),
        use_oif_addrs_only: sysctl(`ipv6/conf/${dev}/use_oif_addrs_only`) === "1",
        addr_info: ((l.addr_info as Record<string, unknown>[] | undefined) ?? []).map((a) => {
          const out: Record<string, unknown> = {};
          for (const k of ADDR_KEYS) if (a[k] !== undefined) out[k] = a[k];
          return out as unknown as InterfaceAddress;
        }),
      };
    }),
    routes: [...routes("-4"), ...routes("-6")],
    neighbours: [...neighbours("-4"), ...neighbours("-6")],
  };
}
