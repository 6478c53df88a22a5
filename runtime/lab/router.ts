// A routing lab: three network namespaces in a row, client ⇄ router ⇄ server, joined by
// two veth pairs, with routes set by `ip route` and permanent neighbours (no ARP on the
// wire), IPv6 off (or, with `ipv6`, on: addresses from 2001:2::/48, the benchmarking
// prefix, routes and permanent neighbours likewise), forwarding on in the router. Traffic
// sent from the client to the server's addresses crosses the router, by the kernel stack
// or by an XDP program on the router's client-facing interface. Addresses come from
// 198.19.<index>.0/24 (and 2001:2:0:<index>NN::/64).
import { ip, LabError, netnsExists, onCleanup, runInNetns } from "./netns.ts";
import { writeFileSync } from "node:fs";

export interface RouterLab {
  name: string;
  client: string;
  router: string;
  server: string;
  /** client ⇄ router: the client's end and the router's. */
  clientIf: string;
  routerInIf: string;
  /** router ⇄ server: the router's end and the server's. */
  routerOutIf: string;
  serverIf: string;
  clientAddr: string;
  routerInAddr: string;
  routerOutAddr: string;
  serverAddr: string;
  /** A prefix routed to the server as next hop (not on any link). */
  beyond: string;
  /** An address in no route of the router: the stack answers "network unreachable". */
  unrouted: string;
  macs: { client: string; routerIn: string; routerOut: string; server: string };
  /** The IPv6 plan (used when the lab is created with `ipv6`): /64s of 2001:2::/48. */
  v6: {
    clientAddr: string;
    routerInAddr: string;
    routerOutAddr: string;
    serverAddr: string;
    /** A /64 routed to the server as next hop. */
    beyond: string;
    /** An address in no route of the router. */
    unrouted: string;
  };
}

/** The /64 `n` (0..255) of lab `index`: 2001:2:0:<index><n>::/64, inside 2001:2::/48. */
export function labNet6(index: number, n: number): string {
  return `2001:2:0:${(index * 256 + n).toString(16)}::`;
}

/** The lab's names and addresses; `name` (≤ 10 characters) prefixes namespaces and interfaces. */
export function routerLabSpec(name: string, index: number): RouterLab {
  if (!/^[a-z][a-z0-9]{0,9}$/.test(name))
    throw new LabError(
      `invalid router lab name '${name}' (lowercase letters and digits, at most 10)`,
    );
  if (!Number.isInteger(index) || index < 0 || index > 127)
    throw new LabError(`router lab index ${index} outside 0..127`);
  const net = `198.19.${index}`;
  const hex = index.toString(16).padStart(2, "0");
  return {
    name,
    client: `${name}-c`,
    router: `${name}-r`,
    server: `${name}-s`,
    clientIf: `${name}c0`,
    routerInIf: `${name}r0`,
    routerOutIf: `${name}r1`,
    serverIf: `${name}s0`,
    clientAddr: `${net}.2`,
    routerInAddr: `${net}.1`,
    routerOutAddr: `${net}.5`,
    serverAddr: `${net}.6`,
    beyond: `198.19.${index + 128}.0/24`,
    unrouted: `${net}.200`,
    macs: {
      client: `02:00:c6:13:${hex}:02`,
      routerIn: `02:00:c6:13:${hex}:01`,
      routerOut: `02:00:c6:13:${hex}:05`,
      server: `02:00:c6:13:${hex}:06`,
    },
    v6: {
      clientAddr: `${labNet6(index, 1)}2`,
      routerInAddr: `${labNet6(index, 1)}1`,
      routerOutAddr: `${labNet6(index, 2)}1`,
      serverAddr: `${labNet6(index, 2)}2`,
      beyond: `${labNet6(index + 128, 0)}/64`,
      unrouted: `${labNet6(index, 200)}1`,
    },
  };
}

function sysctl(ns: string, path: string, value: string): void {
  runInNetns(ns, () => writeFileSync(`/proc/sys/${path}`, value));
}

export interface RouterLabOptions {
  /**
   * IPv6 on, with `lab.v6`'s addresses (no DAD: usable at once), routes and permanent
   * neighbours mirroring the IPv4 ones, and IPv6 forwarding on in the router.
   */
  ipv6?: boolean;
}

/** Creates the lab (removing a stale one of the same name first); returns its remover. */
export function createRouterLab(lab: RouterLab, opts: RouterLabOptions = {}): () => void {
  destroyRouterLab(lab);
  const remove = onCleanup(() => destroyRouterLab(lab));
  try {
    for (const ns of [lab.client, lab.router, lab.server]) {
      ip("netns", "add", ns);
      if (opts.ipv6) {
        // Addresses usable at once (no tentative period), the same in every run.
        for (const c of ["all", "default"]) sysctl(ns, `net/ipv6/conf/${c}/accept_dad`, "0");
      } else {
        sysctl(ns, "net/ipv6/conf/all/disable_ipv6", "1");
        sysctl(ns, "net/ipv6/conf/default/disable_ipv6", "1");
      }
      ip("-n", ns, "link", "set", "lo", "up");
    }
    const m = lab.macs;
    ip(
      "-n",
      lab.client,
      "link",
      "add",
      lab.clientIf,
      "address",
      m.client,
      "type",
      "veth",
      "peer",
      "name",
      lab.routerInIf,
      "address",
      m.routerIn,
      "netns",
      lab.router,
    );
    ip(
      "-n",
      lab.router,
      "link",
      "add",
      lab.routerOutIf,
      "address",
      m.routerOut,
      "type",
      "veth",
      "peer",
      "name",
      lab.serverIf,
      "address",
      m.server,
      "netns",
      lab.server,
    );
    const link = (ns: string, dev: string, addr: string) => {
      ip("-n", ns, "addr", "add", `${addr}/30`, "dev", dev);
      ip("-n", ns, "link", "set", dev, "up");
    };
    link(lab.client, lab.clientIf, lab.clientAddr);
    link(lab.router, lab.routerInIf, lab.routerInAddr);
    link(lab.router, lab.routerOutIf, lab.routerOutAddr);
    link(lab.server, lab.serverIf, lab.serverAddr);
    const neigh = (ns: string, addr: string, mac: string, dev: string) =>
      ip("-n", ns, "neigh", "replace", addr, "lladdr", mac, "dev", dev, "nud", "permanent");
    neigh(lab.client, lab.routerInAddr, m.routerIn, lab.clientIf);
    neigh(lab.router, lab.clientAddr, m.client, lab.routerInIf);
    neigh(lab.router, lab.serverAddr, m.server, lab.routerOutIf);
    neigh(lab.server, lab.routerOutAddr, m.routerOut, lab.serverIf);
    ip("-n", lab.client, "route", "add", "default", "via", lab.routerInAddr);
    ip("-n", lab.server, "route", "add", "default", "via", lab.routerOutAddr);
    ip("-n", lab.router, "route", "add", lab.beyond, "via", lab.serverAddr, "dev", lab.routerOutIf);
    sysctl(lab.router, "net/ipv4/ip_forward", "1");
    if (opts.ipv6) {
      const v6 = lab.v6;
      const link6 = (ns: string, dev: string, addr: string) =>
        ip("-n", ns, "addr", "add", `${addr}/64`, "dev", dev, "nodad");
      link6(lab.client, lab.clientIf, v6.clientAddr);
      link6(lab.router, lab.routerInIf, v6.routerInAddr);
      link6(lab.router, lab.routerOutIf, v6.routerOutAddr);
      link6(lab.server, lab.serverIf, v6.serverAddr);
      neigh(lab.client, v6.routerInAddr, m.routerIn, lab.clientIf);
      neigh(lab.router, v6.clientAddr, m.client, lab.routerInIf);
      neigh(lab.router, v6.serverAddr, m.server, lab.routerOutIf);
      neigh(lab.server, v6.routerOutAddr, m.routerOut, lab.serverIf);
      ip("-n", lab.client, "-6", "route", "add", "default", "via", v6.routerInAddr);
      ip("-n", lab.server, "-6", "route", "add", "default", "via", v6.routerOutAddr);
      ip(
        "-n",
        lab.router,
        "-6",
        "route",
        "add",
        v6.beyond,
        "via",
        v6.serverAddr,
        "dev",
        lab.routerOutIf,
      );
      sysctl(lab.router, "net/ipv6/conf/all/forwarding", "1");
    }
    // The receivers' reverse-path check stays strict: nothing from outside the lab is
    // ever routed anywhere but back into it.
    for (const [ns, dev] of [
      [lab.router, lab.routerInIf],
      [lab.router, lab.routerOutIf],
    ] as const)
      sysctl(ns, `net/ipv4/conf/${dev}/rp_filter`, "1");
  } catch (e) {
    remove();
    throw e;
  }
  return remove;
}

/** Removes the three namespaces (and with them both veth pairs); idempotent. */
export function destroyRouterLab(lab: RouterLab): void {
  for (const ns of [lab.client, lab.router, lab.server]) {
    if (!netnsExists(ns)) continue;
    try {
      ip("netns", "del", ns);
    } catch {
      /* raced with another remover */
    }
  }
}
