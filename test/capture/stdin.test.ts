import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHILD = ROOT + "test/capture/stdin-child.ts";
const PCAPNG = ROOT + "fixtures/strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256.pcapng";
const PCAP = ROOT + "fixtures/tcpdump/OSPFv3_with_AH.pcap";
const DENO = ROOT + "node_modules/.bin/deno";

const runtimes: [string, string[]][] = [["bun", [process.execPath, CHILD]]];
if (existsSync(DENO)) runtimes.push(["deno", [DENO, "run", "--quiet", "--allow-read", "--allow-env", CHILD]]);

function run(cmd: string[], input: Uint8Array) {
  const r = spawnSync(cmd[0], cmd.slice(1), { input, cwd: ROOT, encoding: "utf8", timeout: 60000 });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

describe("openCapture('-') reads process.stdin", () => {
  for (const [name, cmd] of runtimes) {
    test(`${name}: pcapng, gzip pcap, and garbage`, () => {
      const ng = run(cmd, readFileSync(PCAPNG));
      expect(ng).toEqual({
        info: { format: "pcapng", gzip: false, byteOrder: "le" },
        n: 16,
        first: "1795614618.618636802",
        anomalies: 0,
        totalBytes: null,
      });
      const gz = run(cmd, gzipSync(readFileSync(PCAP)));
      expect(gz.info).toEqual({ format: "pcap", gzip: true, nanosecond: false, byteOrder: "le" });
      expect(gz.n).toBe(61);
      expect(run(cmd, new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"))).toEqual({
        error: "CaptureFormatError",
        message: "not a pcap or pcapng file (magic 0x47455420)",
      });
      expect(run(cmd, new Uint8Array(0)).error).toBe("CaptureFormatError");
    }, 60000);
  }
});
