// The compiled classic BPF runs in the Linux kernel: attached with SO_ATTACH_FILTER to an
// AF_PACKET socket on lo inside a fresh network namespace (vkf-bpf-<pid>, deleted after),
// the kernel keeps exactly the frames the user-space evaluator keeps, as SOCK_RAW on
// Ethernet and as cooked SOCK_DGRAM (SKF_AD_PROTOCOL). Needs root, iproute2 and python3
// (for the socket calls; lib/ has no raw sockets): skipped without them, failing with CI=true.
import { encodeBpf } from "../../lib/capture/bpf-ipsec.ts";
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { compileCaptureFilter, compileCaptureFilterBpf } from "../../lib/capture/filter/mod.ts";

const NS = `vkf-bpf-${process.pid}`;
const ok = (cmd: string, args: string[]) => spawnSync(cmd, args).status === 0;
const HAVE = process.getuid?.() === 0 && ok("ip", ["-V"]) && ok("python3", ["-c", "import socket; socket.AF_PACKET"]);
if (!HAVE && process.env.CI === "true") throw new Error("filter-kernel.test.ts needs root, iproute2 and python3 with CI=true");

afterAll(() => {
  spawnSync("ip", ["netns", "del", NS]);
});

test.skipIf(!HAVE)("the kernel runs the compiled BPF and keeps what the evaluator keeps", () => {
  expect(ok("ip", ["netns", "add", NS])).toBe(true);
  expect(ok("ip", ["netns", "exec", NS, "ip", "link", "set", "lo", "up"])).toBe(true);
  const exprs = ["udp dst port 40500", "udp portrange 40000-40600 and not dst port 40501", "host 127.0.0.1 and udp", "ip6 or icmp", "not udp port 40500"];
  const ports = [40500, 40501, 40600, 40601, 500];
  const cases = exprs.flatMap((e) => (["raw", "dgram"] as const).map((kind) => {
    const f = compileCaptureFilter(e);
    const bpf = compileCaptureFilterBpf(f.ast, kind === "raw" ? 1 : 113, { cooked: kind === "dgram", live: true });
    expect(bpf).not.toBeNull();
    return { e, f, kind, bpf: Buffer.from(encodeBpf(bpf!)).toString("hex"), ports };
  }));
  const r = spawnSync("ip", ["netns", "exec", NS, "python3", join(import.meta.dir, "filter-kernel.py")], {
    input: JSON.stringify(cases.map(({ kind, bpf, ports }) => ({ kind, bpf, ports }))),
    timeout: 60_000,
  });
  expect(r.stderr.toString()).toBe("");
  const res = JSON.parse(r.stdout.toString()) as { filtered: { proto: number; data: string }[]; all: { proto: number; data: string }[] }[];
  let kept = 0, dropped = 0;
  cases.forEach((c, i) => {
    // the user-space view of a frame: Ethernet as is; cooked with an SLL header in front
    const frame = (x: { proto: number; data: string }) => {
      const d = Buffer.from(x.data, "hex");
      if (c.kind === "raw") return new Uint8Array(d);
      const h = new Uint8Array(16 + d.length);
      h[14] = x.proto >> 8;
      h[15] = x.proto & 255;
      h.set(d, 16);
      return h;
    };
    const lt = c.kind === "raw" ? 1 : 113;
    const want = res[i].all.filter((x) => c.f.match(lt, frame(x))).map((x) => x.data);
    kept += want.length;
    dropped += res[i].all.length - want.length;
    expect({ e: c.e, kind: c.kind, frames: res[i].filtered.map((x) => x.data) }).toEqual({ e: c.e, kind: c.kind, frames: want });
  });
  expect(kept).toBeGreaterThan(0);
  expect(dropped).toBeGreaterThan(0);
});
