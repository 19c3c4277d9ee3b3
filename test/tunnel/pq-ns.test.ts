/**
 * Issue 15, post-quantum hybrid key exchange between two `vpnkit up` processes in namespaces
 * vkn1/vkn2 (veth, 192.0.2.1 <-> 192.0.2.2): both with `--ike-proposal
 * aes256gcm16-prfsha384-ecp384-ke1_mlkem768` (the responder also with a classic proposal).
 * The tunnel comes up with IKE:.../KE1_ML_KEM_768, ping passes, both IKE key logs hold the same
 * SK_e/SK_a per SPI pair (the IKE_SA_INIT keys and the RFC 9370 update), the capture holds
 * IKE_INTERMEDIATE, and `vpnkit decode` names it and, with the key log, decrypts it and the
 * IKE_AUTH after it (updated keys). Then a classic-only initiator against the same responder
 * gets the classic proposal (no IKE_INTERMEDIATE). The initiator rekeys the IKE SA after 4 s:
 * CREATE_CHILD_SA and IKE_FOLLOWUP_KE (RFC 9370 §2.2.4), decoded and decrypted too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStatus } from "../../lib/tunnel/control.ts";
import { BUN, capture, ROOT, sh } from "./nsutil.ts";
import { startUp, stopUp, until, type VkoSide, waitControl } from "./vko-ns.ts";
import { releaseNetnsLock, takeNetnsLock } from "../netns-lock.ts";

const NS = ["vkn1", "vkn2"] as const;
const LOCK = "/run/vpnkit-vkn-netns.lock";
const PQ = "aes256gcm16-prfsha384-ecp384-ke1_mlkem768";
const CLASSIC = "aes256gcm16-prfsha256-x25519";
const dir = mkdtempSync(join(tmpdir(), "vkn-pq-"));

function missing(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  for (const t of ["ip", "ping", "tcpdump"]) if (spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0) return `${t} not installed`;
  return null;
}
const why = missing();
if (why && process.env.CI === "true") throw new Error(`PQ namespace test: ${why}`);

function topoUp(): void {
  takeNetnsLock(LOCK, "vkn1/vkn2");
  for (const n of NS) sh("ip", ["netns", "del", n], { allowFail: true });
  for (const n of NS) sh("ip", ["netns", "add", n]);
  sh("ip", ["link", "add", "vkn1a", "netns", "vkn1", "type", "veth", "peer", "name", "vkn2a", "netns", "vkn2"]);
  for (const [ns, dev, n] of [["vkn1", "vkn1a", 1], ["vkn2", "vkn2a", 2]] as const) {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    sh("ip", ["-n", ns, "link", "set", dev, "up"]);
    sh("ip", ["-n", ns, "addr", "add", `192.0.2.${n}/24`, "dev", dev]);
  }
  sh("ip", ["netns", "exec", "vkn1", "ping", "-c", "1", "-W", "2", "192.0.2.2"]);
}

function topoDown(): void {
  for (const n of NS) sh("ip", ["netns", "del", n], { allowFail: true });
  releaseNetnsLock(LOCK);
}

beforeAll(() => {
  if (!why) topoUp();
});
afterAll(() => {
  if (!why) topoDown();
  rmSync(dir, { recursive: true, force: true });
});

const psk = join(dir, "psk");
writeFileSync(psk, "vkn post-quantum test pre-shared key\n", { mode: 0o600 });

/** IKEv2 lines of a vpnkit key log: "ispi rspi encr skei sker integ skai skar". */
function ikeLines(file: string): string[] {
  return readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("IKEv2 ")).map((l) => l.slice(6));
}

function decode(args: string[]): string {
  const r = spawnSync(BUN, [join(ROOT, "cli/main.ts"), "decode", ...args], { encoding: "utf8", timeout: 60_000 });
  return (r.stdout ?? "") + (r.stderr ?? "");
}

describe.skipIf(why !== null)(`ML-KEM-768 hybrid key exchange between vpnkits (vkn1/vkn2)${why ? ` [skipped: ${why}]` : ""}`, () => {
  test("ke1_mlkem768 on both sides: IKE_INTERMEDIATE, same keys in both key logs, ping, decode decrypts it; a classic initiator gets the classic proposal", async () => {
    const pcap = join(dir, "pq.pcap");
    const cap = await capture("vkn1", "vkn1a", pcap, "udp port 500 or udp port 4500", 0);
    const sS = join(dir, "s.sock"), cS = join(dir, "c.sock"), kS = join(dir, "s.keylog"), kC = join(dir, "c.keylog");
    const s = startUp("vkn2", ["--responder", "--psk-file", psk, "--local-ts", "10.75.2.1/32", "--remote-ts", "10.75.1.1/32", "--tun-name", "vkn2t", "--control", sS,
      "--ike-proposal", `${PQ},${CLASSIC}`, "--keylog", kS]);
    let c: VkoSide | null = null;
    let c2: VkoSide | null = null;
    try {
      await waitControl(s, sS);
      c = startUp("vkn1", ["--peer", "192.0.2.2", "--psk-file", psk, "--local-ts", "10.75.1.1/32", "--remote-ts", "10.75.2.1/32", "--tun-name", "vkn1t", "--control", cS,
        "--ike-proposal", PQ, "--keylog", kC, "--ike-rekey", "4"]);
      const cc = c;
      await until(() => /Child SA installed/.test(cc.log()) || cc.proc.exitCode !== null, 30_000, "the Child SA");
      await waitControl(c, cS);
      await until(() => /Child SA installed/.test(s.log()), 10_000, "the responder's Child SA");
      expect(c.log()).toContain("additional key exchange ML_KEM_768 done (IKE_INTERMEDIATE 1); IKE SA keys updated");
      expect(c.log()).toContain("IKE SA established with 192.0.2.2 (IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384/KE1_ML_KEM_768)");
      expect(s.log()).toContain("(IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384/KE1_ML_KEM_768)");
      const st = await readStatus(cS, 2000);
      expect(st.ike!.ikeSas.find((x) => x.state === "established")!.proposal).toBe("IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384/KE1_ML_KEM_768");
      // the IKE SA rekey after 4 s repeats the ML-KEM exchange in IKE_FOLLOWUP_KE (RFC 9370 §2.2.4)
      await until(() => /IKE SA rekeyed/.test(cc.log()) || cc.proc.exitCode !== null, 20_000, "the IKE SA rekey");
      expect(c.log(), c.log()).toContain("IKE SA rekey: 1 additional key exchange(s) done (IKE_FOLLOWUP_KE)");
      expect(c.log()).toContain("IKE SA rekeyed (IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384/KE1_ML_KEM_768)");
      await until(() => /IKE SA rekeyed/.test(s.log()), 10_000, "the responder's IKE SA rekey");
      const ping = spawnSync("ip", ["netns", "exec", "vkn1", "ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", "10.75.1.1", "10.75.2.1"], { encoding: "utf8" });
      expect(ping.status, ping.stdout + c.log() + s.log()).toBe(0);
      await cap.stop();

      // both key logs: the IKE_SA_INIT keys and the RFC 9370 update (same SPI pair), then the rekeyed SA; same keys on both sides
      const ki = ikeLines(kC), kr = ikeLines(kS);
      expect(ki.length).toBe(3);
      expect(kr).toEqual(ki);
      expect(new Set(ki.slice(0, 2).map((l) => l.split(" ").slice(0, 2).join("/"))).size).toBe(1);
      expect(ki[2].split(" ").slice(0, 2)).not.toEqual(ki[0].split(" ").slice(0, 2));
      expect(ki[0].split(" ")[3]).not.toBe(ki[1].split(" ")[3]);

      // decode: IKE_INTERMEDIATE named; with the key log (either format) it and the IKE_AUTH after it decrypt
      const plain = decode([pcap]);
      expect(plain).toMatch(/IKEv2 IKE_INTERMEDIATE request I mid 1 \[ SK \]/);
      expect(plain).toMatch(/IKEv2 IKE_INTERMEDIATE response R mid 1 \[ SK \]/);
      // 1184 bytes of ML-KEM key and the link: the IKE_FOLLOWUP_KE request goes in RFC 7383 fragments
      expect(plain).toMatch(/IKEv2 IKE_FOLLOWUP_KE request I mid \d+ \[ EF\(1\/2\) \]/);
      expect(plain).toMatch(/IKEv2 IKE_FOLLOWUP_KE response R mid \d+ \[ SK \]/);
      expect(plain).toMatch(/IKE_SA_INIT request I mid 0 \[ SA KE No .*N\(INT_SUP\) \]/);
      for (const keys of [kC, kC + ".ikev2_decryption_table"]) {
        const out = decode(["--keys", keys, pcap]);
        expect(out, out).toMatch(/IKEv2 IKE_INTERMEDIATE request I mid 1 \[ KE \]/);
        expect(out).toMatch(/IKEv2 IKE_INTERMEDIATE response R mid 1 \[ KE \]/);
        expect(out).toMatch(/IKEv2 IKE_AUTH request I mid 2 \[ IDi N\(INIT_CONTACT\) AUTH SA TSi TSr \]/);
        expect(out).toMatch(/IKEv2 IKE_AUTH response R mid 2 \[ IDr AUTH SA TSi TSr \]/);
        expect(out).toMatch(/IKEv2 CREATE_CHILD_SA response R mid \d+ \[ SA No KE N\(ADD_KE\) \]/);
        expect(out).toMatch(/IKEv2 IKE_FOLLOWUP_KE request I mid \d+ \[ KE N\(ADD_KE\) \]/);
        expect(out).toMatch(/IKEv2 IKE_FOLLOWUP_KE response R mid \d+ \[ KE \]/);
      }
      const verbose = decode(["--keys", kC, "-v", pcap]);
      expect(verbose).toContain("type: ADDKE1 (6)");
      expect(verbose).toContain("id: ml-kem-768 (36)");
      expect(verbose).toContain("group: ml-kem-768 (36)");
      expect(verbose).toContain("(1184 bytes)");
      expect(verbose).toContain("(1088 bytes)");
      await stopUp(c);
      c = null;

      // a classic-only initiator (as strongSwan 5.9.8 offers) against the same responder: the classic proposal, no IKE_INTERMEDIATE
      c2 = startUp("vkn1", ["--peer", "192.0.2.2", "--psk-file", psk, "--local-ts", "10.75.1.1/32", "--remote-ts", "10.75.2.1/32", "--tun-name", "vkn1u", "--control", cS + "2",
        "--ike-proposal", CLASSIC]);
      const c2c = c2;
      await until(() => /Child SA installed/.test(c2c.log()) || c2c.proc.exitCode !== null, 30_000, "the classic Child SA");
      expect(c2.log()).toContain("IKE SA established with 192.0.2.2 (IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519)");
      expect(c2.log()).not.toContain("IKE_INTERMEDIATE");
      const ping2 = spawnSync("ip", ["netns", "exec", "vkn1", "ping", "-c", "2", "-i", "0.2", "-W", "2", "-I", "10.75.1.1", "10.75.2.1"], { encoding: "utf8" });
      expect(ping2.status, ping2.stdout + c2.log() + s.log()).toBe(0);
    } finally {
      await cap.stop();
      if (c) await stopUp(c);
      if (c2) await stopUp(c2);
      await stopUp(s);
    }
  }, 120_000);
});
