/** cli/responder.ts secret-file reader and cli/mtu.ts rendering. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderRun } from "../../cli/mtu.ts";
import { intOption, readSecretFile, UsageError } from "../../cli/responder.ts";
import { mtuReport } from "../../lib/probe/report.ts";
import type { MtuRun } from "../../lib/probe/run.ts";

const dir = mkdtempSync(join(tmpdir(), "vmt-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("readSecretFile", () => {
  test("trailing newline and spaces are not part of the secret; private file: no warning", () => {
    const f = join(dir, "s1");
    writeFileSync(f, "0123456789abcdef  \r\n", { mode: 0o600 });
    const warns: string[] = [];
    expect(new TextDecoder().decode(readSecretFile(f, (m) => warns.push(m)))).toBe("0123456789abcdef");
    expect(warns).toEqual([]);
  });

  test("world-readable file: a warning; short secret or missing file: usage error", () => {
    const f = join(dir, "s2");
    writeFileSync(f, "0123456789abcdef", { mode: 0o644 });
    const warns: string[] = [];
    readSecretFile(f, (m) => warns.push(m));
    expect(warns[0]).toContain("readable by group/others");
    const g = join(dir, "s3");
    writeFileSync(g, "short\n", { mode: 0o600 });
    expect(() => readSecretFile(g, () => {})).toThrow(UsageError);
    expect(() => readSecretFile(join(dir, "absent"), () => {})).toThrow(UsageError);
  });

  test("intOption", () => {
    expect(intOption(undefined, "--x", 1, 10)).toBeUndefined();
    expect(intOption("7", "--x", 1, 10)).toBe(7);
    expect(() => intOption("11", "--x", 1, 10)).toThrow(UsageError);
    expect(() => intOption("1e3", "--x", 1, 10000)).toThrow(UsageError);
  });
});

describe("renderRun", () => {
  const base: MtuRun & { peer: string; address: string; port: number } = {
    ok: true, pathMtu: 1380, bound: "timeout", probes: 32, acks: 21, timeouts: 11, localTooBig: 0, icmpErrors: 0, hints: [],
    rounds: 4, durationMs: 280.4, srttMs: 0.4, family: 4, min: 576, max: 1500, kernelPmtuBefore: 1500, kernelPmtuAfter: 1500,
    errors: [], report: mtuReport(1380, 4), peer: "peer.example", address: "192.0.2.7", port: 4501,
  };

  test("found: MTU, how it was bounded, cost, table and clamp", () => {
    const out = renderRun(base);
    expect(out).toContain("path MTU to peer.example (192.0.2.7) over IPv4: 1380 bytes");
    expect(out).toContain("black hole");
    expect(out).toContain("280 ms, 32 probes in 4 rounds");
    expect(out).toMatch(/IPv4 +ESP-in-UDP \(RFC 3948\) +1318 +1318 +1318 +1278 +1258/);
    expect(out).toContain("clamp TCP MSS to: inner IPv4 1278, inner IPv6 1258 (ESP-in-UDP)");
  });

  test("not found: the reason", () => {
    const out = renderRun({ ...base, ok: false, pathMtu: null, bound: null, error: "no authenticated answer at the minimum size 576", report: null });
    expect(out).toContain("not determined: no authenticated answer");
    expect(out).not.toContain("clamp");
  });
});
