/** CRLs over HTTP (lib/tunnel/crl-fetcher.ts) from a local server: pending, cached, bounded, unreachable. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateCertificate } from "../../lib/ike/pki/validate.ts";
import { CrlFetcher } from "../../lib/tunnel/crl-fetcher.ts";
import { havePki, makePki, type TestPki } from "../helpers/pki.ts";

const ok = havePki();
if (!ok && process.env.CI === "true") throw new Error("pki (strongswan-pki) is required under CI=true");
const d = ok ? describe : describe.skip;

let dir = "", P: TestPki, server: Server, base = "", hits = 0;
let NOW = 0;

beforeAll(async () => {
  if (!ok) return;
  dir = mkdtempSync(join(tmpdir(), "vk-crl-"));
  P = makePki(dir);
  server = createServer((req, res) => {
    hits++;
    if (req.url === "/inter.crl") res.end(readFileSync(join(dir, "inter.crl")));
    else if (req.url === "/big.crl") res.end(Buffer.alloc(64 * 1024, 0x30));
    else if (req.url === "/junk.crl") res.end("not a crl");
    else if (req.url === "/slow.crl") setTimeout(() => res.end(""), 3000);
    else { res.statusCode = 404; res.end(); }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  P.issue("moon", "inter", "C=CH, O=vpnkit test, CN=moon.vk.test", ["--san", "moon.vk.test", "--crl", `${base}/inter.crl`]);
  P.crl("inter", ["moon"], join(dir, "inter.crl"));
  NOW = Date.now() + 2000;
});
afterAll(() => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

d("CRL fetcher", () => {
  test("first lookup pending, then the cached CRL (one HTTP request); validation sees the revocation", async () => {
    const f = new CrlFetcher();
    const opts = () => ({ now: NOW, anchors: [P.der("root")], intermediates: [P.der("inter")], fetchCrl: f.lookup, revocation: "ifuri" as const });
    hits = 0;
    expect(validateCertificate(P.der("moon"), opts())).toMatchObject({ ok: false, pending: [`${base}/inter.crl`] });
    await f.idle();
    expect(validateCertificate(P.der("moon"), opts())).toMatchObject({ ok: false, reason: expect.stringContaining("is revoked") });
    expect(f.lookup(`${base}/inter.crl`)).toBeInstanceOf(Uint8Array);
    expect(hits).toBe(1);
    expect(f.stats.fetched).toBe(1);
  });
  test("404, not a CRL, over the size limit, a timeout, an ldap: URI: unreachable, remembered for retryMs", async () => {
    const logs: string[] = [];
    let clock = 1_000_000;
    const f = new CrlFetcher({ maxBytes: 16 * 1024, timeoutMs: 300, retryMs: 1000, now: () => clock, log: (_l, m) => logs.push(m) });
    for (const u of ["/missing.crl", "/junk.crl", "/big.crl", "/slow.crl"]) expect(f.lookup(base + u)).toBe("pending");
    await f.idle();
    for (const u of ["/missing.crl", "/junk.crl", "/big.crl", "/slow.crl"]) expect(f.lookup(base + u)).toBe("unreachable");
    expect(f.lookup("ldap://example.invalid/cn=crl")).toBe("unreachable");
    expect(logs.join("\n")).toMatch(/HTTP 404/);
    expect(logs.join("\n")).toMatch(/byte limit/);
    expect(f.stats.failed).toBe(4);
    clock += 1001;
    expect(f.lookup(base + "/missing.crl")).toBe("pending");
    await f.idle();
  });
  test("bounded: concurrent fetches and cached URIs", async () => {
    const f = new CrlFetcher({ maxConcurrent: 2, maxEntries: 3 });
    const r = ["/a", "/b", "/c"].map((u) => f.lookup(base + u));
    expect(r).toEqual(["pending", "pending", "unreachable"]);
    await f.idle();
    expect(f.stats.refused).toBe(1);
  });
});
