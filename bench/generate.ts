// Generates a large, valid filter for front-end timing: many structs, maps, helper
// functions and programs that exercise headers, narrowing, loops and switches.
export function generateFilter(targetLines: number): string {
  const out: string[] = [
    `import {`,
    `  XdpContext, XdpAction, XDP_PASS, XDP_DROP, XDP_TX, HashMap, ArrayMap, PerCpuArray,`,
    `  IPPROTO_TCP, IPPROTO_UDP, u8, u16, u32, u64,`,
    `} from "xdpc";`,
    ``,
  ];
  let i = 0;
  while (out.length < targetLines) {
    out.push(
      `interface Key${i} { addr: u32; port: u16; proto: u8; pad: u8 }`,
      `interface Val${i} { packets: u64; bytes: u64; last: u32 }`,
      `const flows${i} = new HashMap<Key${i}, Val${i}>({ maxEntries: 1024 });`,
      `const stats${i} = new PerCpuArray<u64>({ maxEntries: 8 });`,
      `const LIMIT${i} = ${1000 + i};`,
      ``,
      `function score${i}(a: u32, b: u16): u32 {`,
      `  let s: u32 = a ^ (b << 3);`,
      `  for (let k = 0; k < 4; k++) {`,
      `    s = (s * 31 + k) & 0xffff;`,
      `  }`,
      `  return s > LIMIT${i} ? s - LIMIT${i} : s;`,
      `}`,
      ``,
      `export function prog${i}(ctx: XdpContext): XdpAction {`,
      `  const ip = ctx.ipv4();`,
      `  if (ip === null) return XDP_PASS;`,
      `  let port: u16 = 0;`,
      `  switch (ip.protocol) {`,
      `    case IPPROTO_TCP: {`,
      `      const tcp = ctx.tcp();`,
      `      if (tcp === null) return XDP_DROP;`,
      `      port = tcp.dstPort;`,
      `      break;`,
      `    }`,
      `    case IPPROTO_UDP: {`,
      `      const udp = ctx.udp();`,
      `      if (udp === null) return XDP_DROP;`,
      `      port = udp.dstPort;`,
      `      break;`,
      `    }`,
      `    default:`,
      `      return XDP_PASS;`,
      `  }`,
      `  const key: Key${i} = { addr: ip.src, port: port, proto: ip.protocol, pad: 0 };`,
      `  const v = flows${i}.lookup(key);`,
      `  if (v !== null) {`,
      `    v.packets += 1;`,
      `    v.bytes += ctx.len;`,
      `    if (score${i}(ip.dst, port) > 100 && v.packets > LIMIT${i}) {`,
      `      stats${i}.increment(1);`,
      `      return XDP_DROP;`,
      `    }`,
      `  } else {`,
      `    flows${i}.update(key, { packets: 1, bytes: ctx.len, last: 0 });`,
      `  }`,
      `  stats${i}.increment(0);`,
      `  return ip.ttl === 0 ? XDP_DROP : XDP_PASS;`,
      `}`,
      ``,
    );
    i++;
  }
  return out.join("\n");
}
