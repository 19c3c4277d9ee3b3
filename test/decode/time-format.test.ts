// Time stamps of the summary line (lib/decode/time.ts: tcpdump's -t family) and the
// interface/direction of Linux cooked captures: each mode's text, the fast path's bytes
// equal to the full decoder's in every mode, and the CLI flags.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { openCapture } from "../../lib/capture/index.ts";
import type { CaptureRecord } from "../../lib/capture/types.ts";
import { Decoder } from "../../lib/decode/pipeline.ts";
import { summaryLine } from "../../lib/decode/summary.ts";
import { ByteWriter, collectText } from "../../lib/decode/output.ts";
import { TIME_MODES, TimeFormatter, timeModeFromTCount } from "../../lib/decode/time.ts";
import { FIX } from "./helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function records(path: string): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  for await (const b of (await openCapture(path)).batches()) for (const r of b) out.push({ ...r, data: r.data.slice() });
  return out;
}

// 2026-11-25 13:50:11 UTC
const T0 = 1795614611;

test("each time mode's text (UTC)", () => {
  const f = (mode: (typeof TIME_MODES)[number]) => new TimeFormatter({ mode, utc: true });
  expect(f("absolute").text(T0, 146233999)).toBe("13:50:11.146233 ");
  expect(f("date").text(T0, 146233000)).toBe("2026-11-25 13:50:11.146233 ");
  expect(f("date").text(T0, 5000)).toBe("2026-11-25 13:50:11.000005 ");
  expect(f("epoch").text(T0, 146233000)).toBe("1795614611.146233 ");
  expect(f("none").text(T0, 1)).toBe("");
  const d = f("delta");
  expect([d.text(T0, 146233000), d.text(T0, 146256000), d.text(T0 + 3725, 146257000), d.text(T0 + 3725, 146256000)]).toEqual([
    "00:00:00.000000 ", "00:00:00.000023 ", "01:02:05.000001 ", "-00:00:00.000001 ",
  ]);
  const r = f("relative");
  expect([r.text(T0, 146233000), r.text(T0, 146256000), r.text(T0 + 90000, 146233000)]).toEqual(["00:00:00.000000 ", "00:00:00.000023 ", "25:00:00.000000 "]);
  // tcpdump's -t count
  expect([1, 2, 3, 4, 5, 6].map(timeModeFromTCount)).toEqual(["none", "epoch", "delta", "date", "relative", null]);
});

test("put() writes exactly text()'s bytes in every mode", () => {
  const dec = new TextDecoder();
  for (const mode of TIME_MODES) {
    for (const utc of [true, false]) {
      const a = new TimeFormatter({ mode, utc }), b = new TimeFormatter({ mode, utc });
      const buf = new Uint8Array(64);
      for (const [s, ns] of [[T0, 0], [T0, 999999999], [T0 + 1, 1000], [T0 + 86399, 5], [T0 - 7, 123456789], [0, 0], [T0 + 400 * 86400, 42000]]) {
        expect(dec.decode(buf.subarray(0, b.put(buf, 0, s, ns)))).toBe(a.text(s, ns));
      }
    }
  }
});

test("fast path == full decoder in every time mode (state of delta/relative kept in order)", async () => {
  const files = [
    `${FIX}strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap`,
    `${FIX}made/d_ikev2_rekey/d_ikev2_rekey.pcap`,
    `${FIX}made/i_ikev2_ipfrag/i_ikev2_ipfrag.pcap`,
  ];
  const dec = new TextDecoder();
  for (const f of files) {
    const recs = await records(f);
    for (const mode of TIME_MODES) {
      for (const utc of [true, false]) {
        const fast = new Decoder(), full = new Decoder();
        const tf = new TimeFormatter({ mode, utc }), tfull = new TimeFormatter({ mode, utc });
        const w = new ByteWriter(collectText().out, 1024, 1024);
        let hits = 0;
        for (const r of recs) {
          const want = summaryLine(full.decode(r), tfull) + "\n";
          const start = w.pos;
          let got: string;
          if (fast.fastSummary(w, r, tf)) {
            hits++;
            got = dec.decode(w.buf.subarray(start, w.pos));
          } else got = summaryLine(fast.decode(r), tf) + "\n";
          expect(got).toBe(want);
          if (w.full) void w.flush();
        }
        if (f.includes("rekey")) expect(hits).toBeGreaterThan(10);
      }
    }
  }
});

test("Linux cooked captures: interface and direction as tcpdump -i any prints them", async () => {
  const recs = await records(`${FIX}strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt_any_sll2.pcap`);
  const d = new Decoder();
  const tf = new TimeFormatter({ mode: "none", utc: true });
  const lines = recs.map((r) => summaryLine(d.decode(r), tf));
  // tcpdump -nr: "?     Out ARP", "?     In  ARP", "?     Out IP 192.0.2.1.500 > 192.0.2.2.500: isakmp"
  expect(lines[0]).toBe("     1 ifindex 68 Out non-IP (ARP)");
  expect(lines[1]).toBe("     2 ifindex 68 In  non-IP (ARP)");
  expect(lines[2]).toStartWith("     3 ifindex 68 Out 192.0.2.1.500 > 192.0.2.2.500 IKEv2 IKE_SA_INIT request");
  expect(lines[3]).toStartWith("     4 ifindex 68 In  192.0.2.2.500 > 192.0.2.1.500 IKEv2 IKE_SA_INIT response");
  // a live capture knows the name (record.ifName); tcpdump pads names to 5 columns
  const named = summaryLine(new Decoder().decode({ ...recs[2], ifName: "lo" }), tf);
  expect(named).toStartWith("     3 lo    Out 192.0.2.1.500 > 192.0.2.2.500 IKEv2");
  expect(summaryLine(new Decoder().decode({ ...recs[3], ifName: "vklveth0" }), tf)).toStartWith("     4 vklveth0 In  192.0.2.2.500");
  // SLL v1 (16-byte header, no interface): direction only. Built from the same real packet.
  const v2 = recs[3].data;
  const v1 = new Uint8Array(16 + v2.length - 20);
  v1.set([0, v2[10], v2[8], v2[9], 0, v2[11]], 0); // packet type, ARPHRD, address length
  v1.set(v2.subarray(12, 20), 6);
  v1.set(v2.subarray(0, 2), 14); // protocol
  v1.set(v2.subarray(20), 16);
  const p1 = new Decoder().decode({ ...recs[3], linkType: 113, data: v1, caplen: v1.length, len: v1.length });
  expect(summaryLine(p1, tf)).toBe(lines[3].replace("ifindex 68 ", ""));
  // -v and --json keep the fields: packetType and ifindex of the sll layer
  expect(p1.layers[0]).toMatchObject({ layer: "sll", version: 1, packetType: 0, packetTypeName: "Unicast to us" });
  expect(d.decode(recs[2]).layers[0]).toMatchObject({ layer: "sll", version: 2, packetType: 4, packetTypeName: "Sent by us", ifindex: 68 });
  // broadcast / multicast / other host
  for (const [pt, word] of [[1, "B  "], [2, "M  "], [3, "P  "]] as const) {
    const x = recs[3].data.slice();
    x[10] = pt;
    expect(summaryLine(new Decoder().decode({ ...recs[3], data: x }), tf)).toStartWith(`     4 ifindex 68 ${word} 192.0.2.2.500`);
  }
});

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [`${ROOT}cli/main.ts`, "decode", ...args], { encoding: "utf8", env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("CLI: local date and time by default (TZ), --utc, the -t family and --time", () => {
  const cap = `${FIX}strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap`;
  const first = (args: string[], env: Record<string, string> = {}) => cli(["-c", "3", ...args, cap], env).out.split("\n").slice(0, 3).map((l) => l.slice(0, 40));
  // packet 1 at 13:50:11.146235 UTC
  expect(first([], { TZ: "UTC" })[0]).toBe("     1 2026-11-25 13:50:11.146235 non-IP");
  expect(first([], { TZ: "Asia/Kolkata" })[0]).toBe("     1 2026-11-25 19:20:11.146235 non-IP");
  expect(first([], { TZ: "Pacific/Kiritimati" })[0]).toBe("     1 2026-11-26 03:50:11.146235 non-IP"); // +14: the next day
  expect(first(["--utc"], { TZ: "Asia/Kolkata" })[0]).toBe("     1 2026-11-25 13:50:11.146235 non-IP");
  expect(first(["--time", "absolute", "--utc"])[0]).toBe("     1 13:50:11.146235 non-IP (ARP)");
  expect(first(["--time", "absolute"], { TZ: "Asia/Kolkata" })[0]).toBe("     1 19:20:11.146235 non-IP (ARP)");
  expect(first(["-t"])[0]).toBe("     1 non-IP (ARP)");
  expect(first(["-tt"])[0]).toBe("     1 1795614611.146235 non-IP (ARP)");
  expect(first(["-ttt"])).toEqual(["     1 00:00:00.000000 non-IP (ARP)", "     2 00:00:00.000021 non-IP (ARP)", "     3 00:00:00.000003 192.0.2.1.500 > 1"]);
  expect(first(["-tttt", "--utc"])[0]).toBe("     1 2026-11-25 13:50:11.146235 non-IP");
  expect(first(["-ttttt"])).toEqual(["     1 00:00:00.000000 non-IP (ARP)", "     2 00:00:00.000021 non-IP (ARP)", "     3 00:00:00.000024 192.0.2.1.500 > 1"]);
  expect(first(["--time", "epoch"])).toEqual(first(["-tt"]));
  expect(first(["--time", "delta"])).toEqual(first(["-ttt"]));
  const bad = cli(["-tttttt", cap]);
  expect(bad.code).toBe(2);
  expect(bad.err).toContain("at most five -t");
  expect(cli(["--time", "yesterday", cap]).code).toBe(2);
  // the same delta times as tcpdump -ttt prints
  const td = spawnSync("tcpdump", ["-nr", cap, "-ttt", "-c", "3"], { encoding: "utf8" });
  if (td.status === 0) {
    const ours = cli(["-ttt", "-c", "3", cap]).out.split("\n").slice(0, 3).map((l) => l.slice(7, 22));
    expect(td.stdout.split("\n").slice(0, 3).map((l) => l.slice(1, 16))).toEqual(ours);
  } else if (process.env.CI === "true") throw new Error("tcpdump not installed");
});
