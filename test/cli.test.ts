// The CLI as a user runs it: the built binary when present (npm test builds it
// first), else `bun cli/main.ts`. Exit codes are documented in README.md.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
const BIN = existsSync(`${ROOT}dist/vpnkit`) ? [`${ROOT}dist/vpnkit`] : [process.execPath, `${ROOT}cli/main.ts`];
const CAP = `${ROOT}fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap`;

function run(args: string[], input?: Uint8Array | string) {
  const r = spawnSync(BIN[0], [...BIN.slice(1), ...args], { input: typeof input === "string" ? Buffer.from(input) : input, timeout: 60_000 });
  return { code: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

test("--version, --help and help decode", () => {
  const v = run(["--version"]);
  expect(v.code).toBe(0);
  expect(v.out).toMatch(/^\d+\.\d+\.\d+/);
  const h = run(["--help"]);
  expect(h.code).toBe(0);
  expect(h.out).toContain("decode");
  const hd = run(["help", "decode"]);
  expect(hd.code).toBe(0);
  expect(hd.out).toContain("--json");
  expect(hd.out).toContain("Examples:");
});

test("decode a file, stdin, and gzip give the same lines", () => {
  const a = run(["decode", CAP]);
  expect(a.code).toBe(0);
  expect(a.out.trim().split("\n").length).toBe(16);
  const raw = readFileSync(CAP);
  const b = run(["decode", "-"], raw);
  expect(b.code).toBe(0);
  expect(b.out).toBe(a.out);
  const dir = mkdtempSync(join(tmpdir(), "vpnkit-cli-"));
  writeFileSync(join(dir, "x.pcap.gz"), gzipSync(raw));
  const c = run(["decode", join(dir, "x.pcap.gz")]);
  expect(c.out).toBe(a.out);
  const d = run(["decode", "-"], gzipSync(raw));
  expect(d.out).toBe(a.out);
});

test("not a capture: one clear line on stderr, exit 2, no stack trace", () => {
  const r = run(["decode", "-"], "this is not a capture file\n".repeat(10));
  expect(r.code).toBe(2);
  expect(r.err.trim().split("\n").length).toBe(1);
  expect(r.err).not.toContain("    at ");
  const m = run(["decode", "/nonexistent/file.pcap"]);
  expect(m.code).toBe(2);
  expect(m.err).toContain("/nonexistent/file.pcap");
  const u = run(["decode", "--no-such-option", CAP]);
  expect(u.code).toBe(2);
});

test("--strict exits 3 on anomalies, 0 without", () => {
  expect(run(["decode", "--strict", CAP]).code).toBe(0);
  const bad = `${ROOT}fixtures/tcpdump/isakmp-pointer-loop.pcap`;
  const r = run(["decode", "--strict", bad]);
  expect(r.code).toBe(3);
  expect(r.out).toContain("!!");
});

test("--json lines parse, --stats and filters work", () => {
  const j = run(["decode", "--json", CAP]);
  const objs = j.out.trim().split("\n").map((l) => JSON.parse(l));
  expect(objs.length).toBe(16);
  expect(objs[2].layers.some((l: { layer: string }) => l.layer === "ikev2")).toBe(true);
  const s = run(["decode", "--stats", CAP]);
  expect(s.out).toContain("outcome: established");
  const f = run(["decode", "--spi", "0xc4ba5861", CAP]);
  expect(f.out.trim().split("\n").length).toBe(4);
  const e = run(["decode", "--exchange", "IKE_SA_INIT", CAP]);
  expect(e.out.trim().split("\n").length).toBe(2);
  const bad = run(["decode", "--exchange", "NOPE", CAP]);
  expect(bad.code).toBe(2);
});

test("truncated capture: reported, not fatal", () => {
  const raw = readFileSync(CAP);
  const r = run(["decode", "-"], raw.subarray(0, raw.length - 50));
  expect(r.code).toBe(0);
  expect(r.out).toContain("!!");
  expect(r.out.trim().split("\n").length).toBeGreaterThanOrEqual(15);
});

// `vpnkit decode … | head -n 1`: a closed output pipe (EPIPE) ends decode
// quietly with exit 0, and reading stops there (an endless capture on stdin proves it).
describe("decode into a pipe closed early (| head -n 1)", () => {
  const raw = readFileSync(CAP);
  const records = raw.subarray(24); // classic pcap: 24-byte file header, then records
  const dir = mkdtempSync(join(tmpdir(), "vpnkit-epipe-"));
  const big = join(dir, "big.pcap");
  // ~30 MB, 160k packets: far more output than a pipe buffer holds, in every mode
  writeFileSync(big, Buffer.concat([raw.subarray(0, 24), ...Array<Buffer>(10_000).fill(records)]));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Run `bash -c 'vpnkit … | head -n 1'`; the exit code is vpnkit's (PIPESTATUS[0]). */
  function throughHead(args: string[], endlessStdin = false): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve) => {
      const c = spawn("bash", ["-c", '"$@" | head -n 1; exit "${PIPESTATUS[0]}"', "bash", ...BIN, ...args], { stdio: [endlessStdin ? "pipe" : "ignore", "pipe", "pipe"] });
      let out = "", err = "";
      c.stdout!.on("data", (d) => (out += d));
      c.stderr!.on("data", (d) => (err += d));
      const timer = setTimeout(() => c.kill("SIGKILL"), 60_000);
      c.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, out, err });
      });
      if (endlessStdin) {
        const sink = c.stdin!;
        let done = false;
        sink.on("error", () => (done = true));
        sink.on("close", () => (done = true));
        c.on("exit", () => (done = true));
        const feed = () => {
          if (done) return;
          if (sink.write(raw.subarray(0, 24))) pump();
          else sink.once("drain", pump);
        };
        const pump = () => {
          while (!done) if (!sink.write(records)) return void sink.once("drain", pump);
        };
        feed();
      }
    });
  }

  for (const mode of [[], ["-v"], ["--json"], ["--stats"], ["--stats", "--json"]]) {
    test(`decode ${mode.join(" ") || "(summary)"} big.pcap | head -n 1: exit 0, nothing on stderr`, async () => {
      const r = await throughHead(["decode", ...mode, big]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out.split("\n").length).toBe(2);
    }, 90_000);
  }

  for (const mode of [[], ["-v"], ["--json"]]) {
    test(`endless capture on stdin: decode ${mode.join(" ") || "(summary)"} - | head -n 1 stops, exit 0, nothing on stderr`, async () => {
      const r = await throughHead(["decode", ...mode, "-"], true);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out.split("\n").length).toBe(2);
    }, 90_000);
  }
});
