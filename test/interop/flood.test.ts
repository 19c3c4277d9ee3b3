/**
 * Issue #12's flood acceptance: the README's vpnkit responder under a spoofed IKE_SA_INIT flood
 * of 30 s at the highest rate scripts/flood/ike-flood.c reaches from another namespace (random
 * sources in 198.18.0.0/15, one request in 10 from the legitimate charon client's address), in
 * namespaces vkf2a/b/c (test/interop/flood-scenario.ts). A charon client (default connection and
 * retransmits) and the README's vpnkit initiator, started 3 s and 8 s into the flood, get their tunnels; the
 * responder answers with COOKIEs (from its IKE gate thread), its RSS stays under 100 MB, and after the
 * flood no half-open IKE SA is left and RSS is back near its baseline. Times are printed, not asserted (the bench,
 * bench/ike/flood.ts, measures them next to charon as a responder).
 *
 * One change to the README command: `[ike.limits] half_open_timeout = 10` (default 30), so the
 * flood's last half-open SAs are gone within this test's budget; the bench runs it unchanged.
 *
 * Skips without root/charon/gcc; fails instead under CI=true.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { releaseNetnsLock, takeNetnsLock } from "../netns-lock.ts";
import { type FloodResult, floodTopoDown, floodTopoUp, runFlood } from "./flood-scenario.ts";
import { missingPrereq } from "./harness.ts";

const reason = missingPrereq() ?? (spawnSync("sh", ["-c", "command -v gcc && command -v iptables"]).status !== 0 ? "gcc or iptables not installed" : null);
const CI = process.env.CI === "true";
if (reason && CI) throw new Error(`CI=true and an interop prerequisite is missing: ${reason}`);
if (reason) console.warn(`[skip] test/interop/flood.test.ts: ${reason}`);
const run = reason ? describe.skip : describe;
const LOCK = "/run/vpnkit-vkf2-netns.lock";

run("spoofed IKE_SA_INIT flood at the sender's highest rate (issue #12)", () => {
  let dir = "";
  let r: FloodResult;
  let ctx = "";
  beforeAll(async () => {
    takeNetnsLock(LOCK, "vkf2a/vkf2b/vkf2c");
    floodTopoUp();
    dir = mkdtempSync(join(tmpdir(), "vkf2-flood-"));
    r = await runFlood({ responder: "vpnkit", seconds: 30, maxPackets: 20_000_000, charonAt: 3, vpnkitAt: 8, vpnkitLimits: "half_open_timeout = 10", settleMax: 15, dir });
    ctx = JSON.stringify(r);
    const mb = (kb: number) => (kb / 1024).toFixed(1);
    console.log(`[measured] flood ${r.flood.sent} IKE_SA_INITs in ${r.flood.seconds} s (${r.flood.pps}/s); responder answered ${r.answers.cookie} with COOKIE, ${r.answers.init} with IKE_SA_INIT; ` +
      `RSS baseline ${mb(r.rssKb.baseline)} MB, max ${mb(r.rssKb.max)} MB, after ${mb(r.rssKb.after)} MB; charon client tunnel in ${r.charonClient.ms} ms (started ${r.charonClient.startedAtS} s in); ` +
      `vpnkit initiator Child SA ${r.vpnkitInitiator.msFromSpawn} ms after spawn, ${r.vpnkitInitiator.msFromFirstInit} ms after its first IKE_SA_INIT (started ${r.vpnkitInitiator.startedAtS} s in); ` +
      `clients up during the flood: charon ${r.charonClient.floodRunningWhenUp}, vpnkit ${r.vpnkitInitiator.floodRunningWhenUp}; during: ${r.during.sas} SAs (${r.during.halfOpen} half-open); after ${r.after.settleS} s: ${r.after.sas} SAs (${r.after.halfOpen} half-open): ${r.after.ikeSas}; counters ${JSON.stringify(r.counters)}; load ${r.loadavg}`);
  }, 180_000);
  afterAll(() => {
    floodTopoDown();
    releaseNetnsLock(LOCK);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the flood ran 30 s at a high rate", () => {
    expect(r.flood.seconds, ctx).toBeGreaterThanOrEqual(29.5);
    expect(r.flood.sent, ctx).toBeGreaterThanOrEqual(300_000);
  });

  test("the responder answered with COOKIEs (on the wire and in its counters) and kept at most 10 half-open IKE SAs", () => {
    expect(r.answers.cookie, ctx).toBeGreaterThan(10_000);
    expect((r.counters as { cookiesSent: number }).cookiesSent, ctx).toBeGreaterThanOrEqual(r.answers.cookie);
    expect(r.during.halfOpen!, ctx).toBeLessThanOrEqual(10);
  });

  // Whether each got up while the flood still ran is printed, not asserted: at the sender's full
  // rate the responder reads about half the requests and answers a fifth, so a client's first
  // IKE_SA_INIT (indistinguishable from the flood's) is lost often and it waits for its own
  // retransmission (charon: 4 s, then 7.2 s, ...); see bench/ike/RESULTS.md.
  test("a charon client (default connection and retransmits, returning a COOKIE) and the README's vpnkit initiator get their tunnels", () => {
    expect(r.charonClient.ok, ctx).toBe(true);
    // a client that got in while the flood ran must have returned a COOKIE (one that only got
    // in after it, once its retransmission came, was not asked for one)
    if (r.charonClient.floodRunningWhenUp) expect(r.charonClient.cookieSeen, ctx).toBe(true);
    expect(r.vpnkitInitiator.ok, ctx).toBe(true);
  });

  // The idle responder holds ~75-85 MB (46 MB of it the bun executable's mapped pages); the IKE
  // gate answers the flood off the main thread without allocating per request.
  test("memory: the responder's RSS stays under 100 MB during the flood, and after it is within 20 MB of the baseline", () => {
    expect(r.rssKb.max * 1024, ctx).toBeLessThan(100_000_000);
    expect(r.rssKb.after, ctx).toBeLessThan(r.rssKb.baseline + 20 * 1024);
  });

  test("the IKE gate's thread read the flood and answered it; the main thread got only what can become an IKE SA", () => {
    const g = (r.counters as { gate?: { received: number; forwarded: number } }).gate;
    expect(g, ctx).toBeDefined();
    expect(g!.received, ctx).toBeGreaterThanOrEqual(r.answers.cookie);
    // forwarded: the first IKE_SA_INITs (before the cookie threshold), the clients' returns with a COOKIE and their other messages
    expect(g!.forwarded, ctx).toBeLessThan(1000);
  });

  // lib/platform/bun/ike-gate-steer.ts: UDP 500 is a bulk and a priority socket, a cBPF program
  // (lib/ike/v2/sa/gate-steer.ts) picks one per datagram in the kernel
  test("kernel steering: the clients' COOKIE retries and the vpnkit initiator's IKE_AUTH came through the priority socket, the flood through the bulk one", () => {
    const g = (r.counters as { gate?: { cookiesValid: number; steer?: { prioReceived: number; prioInits: number; misrouted: number; bulkKernelDrops: number; prioKernelDrops: number } } }).gate;
    const t = g?.steer;
    expect(t, ctx).toBeDefined();
    // every datagram was read from the socket the program picks for it
    expect(t!.misrouted, ctx).toBe(0);
    // a client that was asked for a COOKIE returned it through the priority socket: one IKE_SA_INIT each at least
    const asked = (r.charonClient.cookieSeen ? 1 : 0) + (r.vpnkitInitiator.cookieSeen ? 1 : 0);
    expect(t!.prioInits, ctx).toBeGreaterThanOrEqual(asked);
    expect(g!.cookiesValid, ctx).toBeLessThanOrEqual(t!.prioInits);
    // the vpnkit initiator's IKE_AUTH (no NAT: on port 500) besides its IKE_SA_INITs
    expect(t!.prioReceived, ctx).toBeGreaterThan(t!.prioInits);
    // none of the flood's cookie-less requests there: only the clients' few messages
    expect(t!.prioReceived, ctx).toBeLessThan(100);
    // and its queue never overflowed
    expect(t!.prioKernelDrops, ctx).toBe(0);
  });

  test("after the flood: no half-open IKE SA left, only the two legitimate tunnels", () => {
    expect(r.after.halfOpen, ctx).toBe(0);
    expect(r.after.sas, ctx).toBe(2);
    // charon (kernel-libipsec 5.9.8) announces a NAT itself, so its IKE SA moved to 4500; the
    // directly connected vpnkit initiator finds no NAT and stays on 500 (its ESP is IP protocol 50)
    expect(r.after.ikeSas, ctx).toMatch(/192\.0\.2\.1:4500 established/);
    expect(r.after.ikeSas, ctx).toMatch(/192\.0\.2\.3:500 established/);
  });
});
