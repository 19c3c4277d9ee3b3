// `vpnkit decode FILE EXPR` / `vpnkit diagnose FILE EXPR`: the filter skips packets before
// decoding, the packet numbers stay those of the capture, and an expression outside the
// subset is one line on stderr with exit 2. (The filter itself is checked against tcpdump
// in test/capture/filter-tcpdump.test.ts.)
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { openCapture } from "../../lib/capture/index.ts";
import { compileCaptureFilter } from "../../lib/capture/filter/mod.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BIN = existsSync(`${ROOT}dist/vpnkit`) ? [`${ROOT}dist/vpnkit`] : [process.execPath, `${ROOT}cli/main.ts`];
const CAP = `${ROOT}fixtures/made/d_ikev2_rekey/d_ikev2_rekey.pcap`;

function run(args: string[], input?: Uint8Array) {
  const r = spawnSync(BIN[0], [...BIN.slice(1), ...args], { input, timeout: 60_000 });
  return { code: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

async function kept(expr: string): Promise<{ nos: number[]; total: number }> {
  const f = compileCaptureFilter(expr);
  const nos: number[] = [];
  let total = 0;
  for await (const b of (await openCapture(CAP)).batches()) for (const r of b) {
    total++;
    if (f.match(r.linkType, r.data)) nos.push(r.no);
  }
  return { nos, total };
}

const numbers = (out: string) => out.trim().split("\n").filter((l) => /^\s*\d+ /.test(l)).map((l) => parseInt(l, 10));

test("decode FILE udp port 500 keeps exactly those packets, with the capture's numbers", async () => {
  const want = await kept("udp port 500");
  expect(want.nos.length).toBeGreaterThan(0);
  expect(want.nos.length).toBeLessThan(want.total);
  expect(want.nos[0]).toBeGreaterThan(1); // the capture starts with other packets: numbering is not renumbered
  const a = run(["decode", CAP, "udp", "port", "500"]);
  expect(a.code).toBe(0);
  expect(a.err).toBe("");
  expect(numbers(a.out)).toEqual(want.nos);
  // one quoted argument, stdin, --json: the same packets
  expect(run(["decode", CAP, "udp port 500"]).out).toBe(a.out);
  expect(run(["decode", "-", "udp", "port", "500"], readFileSync(CAP)).out).toBe(a.out);
  const j = run(["decode", "--json", CAP, "udp port 500"]);
  expect(j.out.trim().split("\n").map((l) => JSON.parse(l)).filter((o) => o.no !== undefined && !o.capture).map((o) => o.no)).toEqual(want.nos);
});

test("decode FILE with a combined expression; diagnose FILE EXPR sees only the kept packets", async () => {
  const expr = "udp port 4500 and not (src host 192.0.2.1 or esp) || port 500";
  const want = await kept(expr);
  expect(want.nos.length).toBeGreaterThan(0);
  expect(want.nos.length).toBeLessThan(want.total);
  const a = run(["decode", CAP, ...expr.split(" ")]);
  expect(a.code).toBe(0);
  expect(numbers(a.out)).toEqual(want.nos);
  const d = run(["diagnose", "--json", CAP, "udp", "port", "500"]);
  expect(d.code).toBe(0);
  const all = run(["diagnose", "--json", CAP]);
  expect(d.out).not.toBe(all.out);
  expect(d.out).toContain("IKE_SA_INIT");
});

test("an expression outside the subset: one line naming the word, exit 2", () => {
  for (const [args, word] of [
    [["udp", "port", "isakmp"], "isakmp"],
    [["ether host 00:11:22:33:44:55"], "ether"],
    [["udp[8:4] = 0"], "udp[8:4]"],
    [["less", "100"], "less"],
  ] as const) {
    const r = run(["decode", CAP, ...args]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    const lines = r.err.trimEnd().split("\n");
    expect(lines.length).toBe(1);
    expect(lines[0]).toStartWith(`vpnkit decode: filter: unsupported word "${word}" at position `);
  }
  for (const args of [["udp", "port"], ["port 500 and ("], ["net 10.1.0.1/16"], ["port 70000"]]) {
    const r = run(["decode", CAP, ...args]);
    expect(r.code).toBe(2);
    expect(r.err.trimEnd().split("\n").length).toBe(1);
    expect(r.err).toStartWith("vpnkit decode: filter: ");
  }
  const miss = run(["decode", "udp", "port", "500"]);
  expect(miss.code).toBe(2);
  expect(miss.err).toContain("the capture file comes before the filter; for stdin: vpnkit decode - udp ...");
  const d = run(["diagnose", CAP, "tcp", "port", "ssh"]);
  expect(d.code).toBe(2);
  expect(d.err).toStartWith('vpnkit diagnose: filter: unsupported word "ssh"');
});
