// `xdpc image build` against standard tools: skopeo reads the layout and the
// oci-archive (labels as bpfman reads them from the config, one manifest per
// little-endian platform, all sharing one layer), umoci unpacks the layer, GNU tar and
// gzip read our archives, the unpacked object is byte-identical to `xdpc build`'s and
// loads through libbpf and runs (BPF_PROG_TEST_RUN); the same input gives the same bytes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repo, xdpc } from "../cli/run.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject, runXdp } from "../support/xdp.ts";
import { dnsQuery, udp4 } from "../../runtime/packets/build.ts";
import { crc32, gzipStored, tar } from "../../runtime/deploy/archive.ts";
import { LITTLE_ENDIAN, parseReference, platformName } from "../../runtime/deploy/oci.ts";
import { programType } from "../../runtime/deploy/labels.ts";

const FILTER = join(repo, "filters/dns_policy.ts");
let dir: string;

function sh(cmd: string, args: string[], opts: { cwd?: string; input?: Uint8Array } = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? dir, input: opts.input, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}
function ok(cmd: string, args: string[], opts: { cwd?: string; input?: Uint8Array } = {}) {
  const r = sh(cmd, args, opts);
  expect(r.status, `${cmd} ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}
const inspect = (args: string[]) => JSON.parse(ok("skopeo", ["inspect", ...args]).toString());
/** Every file of a directory tree, relative path → bytes. */
function tree(root: string, rel = ""): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    const p = join(rel, e.name);
    if (e.isDirectory()) for (const [k, v] of tree(root, p)) out.set(k, v);
    else out.set(p, readFileSync(join(root, p)));
  }
  return out;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xdpct-image-"));
  const b = xdpc(["build", FILTER, "-o", join(dir, "ref.o")]);
  expect(b.status, b.stderr).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("archive writers", () => {
  it("GNU tar lists and extracts our ustar archive; long paths use the prefix field", () => {
    const long = `${"d".repeat(80)}/${"e".repeat(60)}/file.bin`;
    const data = new Uint8Array(1300).map((_, i) => (i * 7) & 0xff);
    const archive = tar([{ name: "a/" }, { name: "a/x.o", data }, { name: long, data }], 1234);
    expect(archive.length % 512).toBe(0);
    writeFileSync(join(dir, "t.tar"), archive);
    const list = ok("tar", ["--numeric-owner", "-tvf", "t.tar"]).toString().trim().split("\n");
    expect(list).toHaveLength(3);
    expect(list[1]).toMatch(/^-rw-r--r-- 0\/0\s+1300 1970-01-01 00:20 a\/x\.o$/);
    expect(list[2]!.endsWith(long)).toBe(true);
    mkdirSync(join(dir, "t"));
    ok("tar", ["-xf", "../t.tar"], { cwd: join(dir, "t") });
    expect(new Uint8Array(readFileSync(join(dir, "t", long)))).toEqual(data);
  });

  it("gzip -t accepts stored-block gzip of 0, 1, 65535 and 200000 bytes, and gunzip gives the data back", () => {
    for (const n of [0, 1, 65535, 200_000]) {
      const data = new Uint8Array(n).map((_, i) => (i * 31 + (i >> 8)) & 0xff);
      const gz = gzipStored(data);
      expect(sh("gzip", ["-t"], { input: gz }).status).toBe(0);
      expect(new Uint8Array(ok("gzip", ["-dc"], { input: gz }))).toEqual(data);
    }
  });

  it("crc32 has the check value of the CRC-32/ISO-HDLC catalogue", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });
});

describe("references and program types", () => {
  it("NAME[:TAG] as the distribution spec spells them", () => {
    expect(parseReference("quay.io/me/dns-policy:v1")).toEqual({
      name: "quay.io/me/dns-policy",
      tag: "v1",
    });
    expect(parseReference("localhost:5000/f")).toEqual({ name: "localhost:5000/f", tag: "latest" });
    expect(() => parseReference("Upper/case:v1")).toThrow(/not an image name/);
    expect(() => parseReference("f:-bad")).toThrow(/not an image tag/);
  });
  it("section names map to bpfman's program types", () => {
    expect(
      ["xdp", "xdp.frags", "xdp/cpumap", "classifier", "tcx/ingress", "kprobe/x"].map(programType),
    ).toEqual(["xdp", "xdp", "xdp", "tc", "tcx", "kprobe"]);
    expect(programType(".text")).toBeUndefined();
  });
});

describe("xdpc image build", () => {
  const REF = "quay.io/xdpc/dns-policy:v1";

  it("writes a layout skopeo reads: bpfman's labels, one manifest per little-endian platform, one shared layer", () => {
    const r = xdpc(["image", "build", FILTER, "-t", REF, "-o", join(dir, "img")]);
    expect(r.status, r.stderr).toBe(0);
    const amd64 = inspect([`oci:${join(dir, "img")}:v1`]);
    expect(amd64.Architecture).toBe("amd64");
    expect(amd64.Os).toBe("linux");
    expect(JSON.parse(amd64.Labels["io.ebpf.programs"])).toEqual({ dns_policy: "xdp" });
    expect(JSON.parse(amd64.Labels["io.ebpf.maps"])).toEqual({
      counters: "per_cpu_array",
      portPolicy: "array",
    });
    expect(amd64.Layers).toHaveLength(1);
    const index = inspect(["--raw", `oci:${join(dir, "img")}:v1`]);
    expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    const platforms = index.manifests.map(
      (m: { platform: { os: string; architecture: string; variant?: string } }) =>
        platformName(m.platform as never),
    );
    expect(platforms).toEqual(LITTLE_ENDIAN.map(platformName));
    expect(platforms).not.toContain("linux/s390x");
    for (const arch of ["arm64", "riscv64", "ppc64le"]) {
      const other = inspect(["--override-arch", arch, `oci:${join(dir, "img")}:v1`]);
      expect(other.Architecture).toBe(arch);
      expect(other.Layers).toEqual(amd64.Layers);
      expect(other.Labels).toEqual(amd64.Labels);
    }
    // bpfman takes the first layer of the selected manifest and looks for an ELF file in it.
    const copy = join(dir, "copied");
    ok("skopeo", ["copy", "--override-arch", "arm64", `oci:${join(dir, "img")}:v1`, `dir:${copy}`]);
    const layer = readFileSync(join(copy, amd64.Layers[0].slice("sha256:".length)));
    const files = ok("tar", ["-tzf", "-"], { input: layer }).toString().trim().split("\n");
    expect(files).toEqual(["dns_policy.o"]);
    const object = ok("tar", ["-xzOf", "-"], { input: layer });
    expect(Buffer.compare(object, readFileSync(join(dir, "ref.o")))).toBe(0);
  });

  it("the oci-archive holds the same image (same digest) and skopeo reads it", () => {
    const r = xdpc(["image", "build", FILTER, "-t", REF, "-o", join(dir, "img.tar"), "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const fromDir = inspect([`oci:${join(dir, "img")}:v1`]);
    const fromTar = inspect([`oci-archive:${join(dir, "img.tar")}:v1`]);
    expect(fromTar.Digest).toBe(out.digest);
    expect(fromTar.Digest).toBe(fromDir.Digest);
    expect(fromTar.Labels).toEqual(fromDir.Labels);
    const names = ok("tar", ["-tf", join(dir, "img.tar")])
      .toString()
      .trim()
      .split("\n");
    expect(names.slice(0, 4)).toEqual(["blobs/", "blobs/sha256/", "oci-layout", "index.json"]);
  });

  it("is deterministic: two builds give the same bytes, a different tag only changes index.json", () => {
    for (const n of ["d1", "d2"])
      expect(xdpc(["image", "build", FILTER, "-t", REF, "-o", join(dir, n)]).status).toBe(0);
    expect(tree(join(dir, "d1"))).toEqual(tree(join(dir, "d2")));
    for (const n of ["a1.tar", "a2.tar"])
      expect(xdpc(["image", "build", FILTER, "-t", REF, "-o", join(dir, n)]).status).toBe(0);
    expect(readFileSync(join(dir, "a1.tar")).equals(readFileSync(join(dir, "a2.tar")))).toBe(true);
    expect(xdpc(["image", "build", FILTER, "-t", "other:v2", "-o", join(dir, "d3")]).status).toBe(
      0,
    );
    const [a, b] = [tree(join(dir, "d1")), tree(join(dir, "d3"))];
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const k of a.keys()) if (k !== "index.json") expect(a.get(k)).toEqual(b.get(k));
  });

  it("SOURCE_DATE_EPOCH sets the config's created time and the layer's file time", () => {
    const env = { SOURCE_DATE_EPOCH: "1700000000" };
    const r = xdpc(
      ["image", "build", FILTER, "-t", REF, "-o", join(dir, "dated"), "--platform", "linux/amd64"],
      { env },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(inspect([`oci:${join(dir, "dated")}:v1`]).Created).toBe("2023-11-14T22:13:20Z");
  });

  it("a single platform is a plain manifest; umoci unpacks it and a second tag joins the layout", () => {
    const img = join(dir, "single");
    expect(
      xdpc(["image", "build", FILTER, "-t", "dns:amd64", "-o", img, "--platform", "linux/amd64"])
        .status,
    ).toBe(0);
    const built = xdpc([
      "image",
      "build",
      join(dir, "ref.o"),
      "-t",
      "dns:obj",
      "-o",
      img,
      "--platform",
      "linux/arm64",
    ]);
    expect(built.status, built.stderr).toBe(0);
    expect(ok("umoci", ["ls", "--layout", img]).toString().trim().split("\n").sort()).toEqual([
      "amd64",
      "obj",
    ]);
    for (const tag of ["amd64", "obj"]) {
      const rootfs = join(dir, `rootfs-${tag}`);
      ok("umoci", ["raw", "unpack", "--image", `${img}:${tag}`, rootfs]);
      expect(readdirSync(rootfs)).toEqual(tag === "obj" ? ["ref.o"] : ["dns_policy.o"]);
      const file = join(rootfs, readdirSync(rootfs)[0]!);
      expect(readFileSync(file).equals(readFileSync(join(dir, "ref.o")))).toBe(true);
    }
    expect(inspect([`oci:${img}:obj`]).Architecture).toBe("arm64");
  });

  it("user errors are one line with exit 1 or 2", () => {
    writeFileSync(join(dir, "junk.o"), "not an elf");
    mkdirSync(join(dir, "full"));
    writeFileSync(join(dir, "full", "x"), "x");
    const cases: [string[], number, RegExp][] = [
      [["image", "build", FILTER, "-t", "Bad:v1"], 2, /--tag: 'Bad' is not an image name/],
      [["image", "push", FILTER, "-t", "a:b"], 2, /unknown image action 'push'/],
      [
        ["image", "build", FILTER, "-t", "a:b", "--platform", "linux/s390x"],
        2,
        /--platform: platform 'linux\/s390x' is not one this object runs on/,
      ],
      [
        ["image", "build", join(dir, "junk.o"), "-t", "a:b", "-o", join(dir, "j")],
        1,
        /junk\.o: not a BPF object bpfman can load: not an ELF file/,
      ],
      [
        ["image", "build", join(dir, "nope.ts"), "-t", "a:b"],
        1,
        /cannot read '.*nope\.ts': no such file/,
      ],
      [
        ["image", "build", FILTER, "-t", "a:b", "-o", join(dir, "full")],
        1,
        /is not empty and not an OCI image layout/,
      ],
    ];
    for (const [args, status, re] of cases) {
      const r = xdpc(args);
      expect(r.status, r.stderr).toBe(status);
      const lines = r.stderr.split("\n").filter((l) => l && !l.startsWith("(run `xdpc --help`"));
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(re);
    }
  });
});

describeKernel("an image's object in the kernel", () => {
  it("the object unpacked from the layer loads through libbpf and filters like the filter", () => {
    const rootfs = join(dir, "rootfs-kernel");
    const img = join(dir, "kimg");
    expect(
      xdpc(["image", "build", FILTER, "-t", "dns:k", "-o", img, "--platform", "linux/amd64"])
        .status,
    ).toBe(0);
    ok("umoci", ["raw", "unpack", "--image", `${img}:k`, rootfs]);
    const obj = loadXdpObject(new Uint8Array(readFileSync(join(rootfs, "dns_policy.o"))));
    try {
      const [pass, drop] = runXdp(obj.programFd("dns_policy"), [
        udp4({ sport: 40000, dport: 53 }, {}, dnsQuery("example.com")),
        udp4({ sport: 40000, dport: 53 }, {}, new Uint8Array(4)),
      ]);
      expect([pass!.name, drop!.name]).toEqual(["XDP_PASS", "XDP_DROP"]);
    } finally {
      obj.close();
    }
  });
});
