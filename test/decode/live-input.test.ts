// Live input: a pipe fed packet by packet gets each packet's line before the next packet
// is written (an ordering assertion: we wait for the line, then write the next packet);
// SIGINT while waiting for input still prints --stats / --explain / the diagnosis;
// tcpdump's -r, -c, -n and -w.
import { afterAll, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openCapture } from "../../lib/capture/index.ts";
import type { CaptureReader, CaptureRecord } from "../../lib/capture/types.ts";
import { collectText } from "../../lib/decode/output.ts";
import { runDecode } from "../../lib/decode/run.ts";
import { diagnoseCapture } from "../../lib/diagnose/mod.ts";
import { FIX } from "./helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const PCAP = `${FIX}strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap`;
const PCAPNG = `${FIX}strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256.pcapng`;
const dir = mkdtempSync(join(tmpdir(), "vkl-live-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The file header and the records of a classic pcap (little-endian, as written by tcpdump). */
function splitPcap(b: Buffer): { head: Buffer; recs: Buffer[] } {
  const recs: Buffer[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const n = b.readUInt32LE(o + 8);
    recs.push(b.subarray(o, o + 16 + n));
    o += 16 + n;
  }
  return { head: b.subarray(0, 24), recs };
}

/** pcapng: everything up to the first packet block, then one chunk per EPB/SPB/OPB. */
function splitPcapng(b: Buffer): { head: Buffer; recs: Buffer[] } {
  const recs: Buffer[] = [];
  let first = -1;
  for (let o = 0; o + 12 <= b.length;) {
    const type = b.readUInt32LE(o), len = b.readUInt32LE(o + 4);
    if (type === 6 || type === 3 || type === 2) {
      if (first < 0) first = o;
      recs.push(b.subarray(o, o + len));
    } else if (first >= 0) recs[recs.length - 1] = b.subarray(recs[recs.length - 1].byteOffset - b.byteOffset, o + len);
    o += len;
  }
  return { head: b.subarray(0, first), recs };
}

/** A child with its stdout as lines; `until(n)` resolves once n lines have arrived. */
function child(args: string[]) {
  const p = spawn(process.execPath, [`${ROOT}cli/main.ts`, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "", err = "";
  const waiters: (() => void)[] = [];
  p.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => p.on("exit", (c) => r(c)));
  const lines = () => out.split("\n").slice(0, -1);
  return {
    p: p as ChildProcess,
    lines,
    out: () => out,
    err: () => err,
    exited,
    async until(pred: () => boolean) {
      while (!pred()) {
        if (p.exitCode !== null) throw new Error(`child exited (${p.exitCode}): ${err}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

for (const [name, file, split] of [["pcap", PCAP, splitPcap], ["pcapng", PCAPNG, splitPcapng]] as const) {
  test(`a ${name} stream on a pipe, fed packet by packet: each line appears before the next packet is written`, async () => {
    const { head, recs } = split(readFileSync(file));
    expect(recs.length).toBeGreaterThan(8);
    const want = spawnSync(process.execPath, [`${ROOT}cli/main.ts`, "decode", "--utc", file], { encoding: "utf8" }).stdout.split("\n").slice(0, -1);
    const c = child(["decode", "--utc", "-"]);
    c.p.stdin!.write(head);
    for (let i = 0; i < recs.length; i++) {
      c.p.stdin!.write(recs[i]);
      // packet i's line must come while packet i+1 has not been written yet
      await c.until(() => c.lines().length >= i + 1);
      expect(c.lines().length).toBe(i + 1);
      expect(c.lines()[i]).toBe(want[i]);
    }
    c.p.stdin!.end();
    expect(await c.exited).toBe(0);
    expect(c.lines()).toEqual(want);
  });
}

test("a FIFO given by name streams like a pipe (each line before the next packet)", async () => {
  const { head, recs } = splitPcap(readFileSync(PCAP));
  const fifo = join(dir, "cap.fifo");
  expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
  const c = child(["decode", "--utc", fifo]);
  const { createWriteStream } = await import("node:fs");
  const w = createWriteStream(fifo);
  w.write(head);
  for (let i = 0; i < 6; i++) {
    w.write(recs[i]);
    await c.until(() => c.lines().length >= i + 1);
    expect(c.lines().length).toBe(i + 1);
  }
  w.end();
  expect(await c.exited).toBe(0);
});

test("--json and -v stream too (the fast paths write per packet)", async () => {
  const { head, recs } = splitPcap(readFileSync(`${FIX}made/d_ikev2_rekey/d_ikev2_rekey.pcap`));
  for (const mode of [["--json"], ["-v"]]) {
    const c = child(["decode", ...mode, "-"]);
    c.p.stdin!.write(head);
    for (let i = 0; i < 12; i++) {
      c.p.stdin!.write(recs[i]);
      await c.until(() => (mode[0] === "-v" ? c.out().split("\n\n").length - 1 : c.lines().length) >= i + 1);
    }
    c.p.stdin!.end();
    expect(await c.exited).toBe(0);
  }
});

test("SIGINT while waiting on a pipe: the lines so far, then --explain's diagnosis, exit 130", async () => {
  const { head, recs } = splitPcap(readFileSync(PCAP));
  const c = child(["decode", "--utc", "--explain", "-"]);
  c.p.stdin!.write(head);
  for (const r of recs.slice(0, 8)) c.p.stdin!.write(r);
  await c.until(() => c.lines().length >= 8);
  c.p.kill("SIGINT"); // stdin stays open: the read is waiting
  expect(await c.exited).toBe(130);
  expect(c.out()).toContain("IKE_AUTH");
  expect(c.out()).toMatch(/Capture: 8 packets/);
});

/** Wait until `pid` has a SIGINT handler (SigCgt bit 2 in /proc/PID/status): a signal before that would kill it. */
async function sigintHandled(pid: number): Promise<void> {
  for (;;) {
    const m = /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
    if (m && (BigInt("0x" + m[1]) & 2n) !== 0n) return;
    await Bun.sleep(20);
  }
}

test("SIGINT while waiting: --stats prints every packet decoded, diagnose prints its diagnosis", async () => {
  const { head, recs } = splitPcap(readFileSync(PCAP));
  // --progress: stderr says how many packets were decoded before the signal
  const c = child(["decode", "--stats", "--progress", "-"]);
  c.p.stdin!.write(head);
  for (const r of recs) c.p.stdin!.write(r);
  let err = "";
  c.p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  while (!/decoding: (\d+) packets/.test(err)) await Bun.sleep(20);
  const decoded = Number(/decoding: (\d+) packets/.exec(err)![1]);
  expect(decoded).toBeGreaterThan(0);
  c.p.kill("SIGINT"); // stdin stays open: the read is waiting
  expect(await c.exited).toBe(130);
  const n = Number(/packets: (\d+)/.exec(c.out())![1]);
  expect(n).toBeGreaterThanOrEqual(decoded);
  expect(c.out()).toContain("ESP SAs");

  const d = child(["diagnose", "-"]);
  d.p.stdin!.write(head);
  for (const r of recs) d.p.stdin!.write(r);
  await sigintHandled(d.p.pid!);
  d.p.kill("SIGINT");
  expect(await d.exited).toBe(130);
  expect(d.out()).toMatch(/^Capture: |^Verdict: |no packets/m);
});

/** A live reader: `recs` in two batches, then waits forever (a quiet interface). */
function quietAfter(recs: CaptureRecord[], onWaiting: () => void): CaptureReader {
  return {
    info: { format: "pcap", gzip: false, byteOrder: "le" },
    live: true,
    bytesRead: () => 0,
    async *batches() {
      yield recs.slice(0, 5);
      yield recs.slice(5);
      onWaiting();
      await new Promise(() => {}); // never
    },
  };
}

test("an abort while the source waits: runDecode and diagnoseCapture keep every packet decoded", async () => {
  const recs: CaptureRecord[] = [];
  for await (const b of (await openCapture(PCAP)).batches()) for (const r of b) recs.push({ ...r, data: r.data.slice() });
  const all = collectText();
  await runDecode(await openCapture(PCAP), all.out, { mode: "summary", stats: true, filter: {}, decoder: {} });
  const ac = new AbortController();
  const sink = collectText();
  const res = await runDecode(quietAfter(recs, () => ac.abort()), sink.out, { mode: "summary", stats: true, filter: {}, decoder: {}, signal: ac.signal });
  expect(res.packets).toBe(recs.length);
  expect(sink.text()).toBe(all.text());
  const ac2 = new AbortController();
  const d = await diagnoseCapture(quietAfter(recs, () => ac2.abort()), { signal: ac2.signal });
  expect(d).toEqual(await diagnoseCapture(await openCapture(PCAP)));
});

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [`${ROOT}cli/main.ts`, "decode", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("-r FILE is the capture argument; -n is accepted; -c N stops after N packets shown", () => {
  const a = cli(["--utc", PCAP]);
  expect(cli(["--utc", "-r", PCAP]).out).toBe(a.out);
  expect(cli(["--utc", "-n", "-r", PCAP]).out).toBe(a.out);
  const lines = a.out.split("\n").slice(0, -1);
  expect(cli(["--utc", "-c", "3", PCAP]).out).toBe(lines.slice(0, 3).join("\n") + "\n");
  // counted after the filters; packet numbers stay those of the capture
  const esp = lines.filter((l) => l.includes(" ESP spi 0xc4ba5861"));
  expect(esp.length).toBeGreaterThan(3);
  expect(cli(["--utc", "-c", "3", "--spi", "0xc4ba5861", PCAP]).out).toBe(esp.slice(0, 3).join("\n") + "\n");
  // -c with --json and -v: 3 objects / blocks
  expect(cli(["-c", "3", "--json", PCAP]).out.trim().split("\n").length).toBe(3);
  expect(cli(["-c", "3", "-v", PCAP]).out.match(/^packet \d+:/gm)!.length).toBe(3);
  // with --stats the packets are counted, not printed: the summary covers the first N that pass the filters
  expect(cli(["--stats", "-c", "3", PCAP]).out).toStartWith("packets: 3,");
  const third = Number(/^ +(\d+) /.exec(esp[2])![1]);
  expect(cli(["--stats", "-c", "3", "--spi", "0xc4ba5861", PCAP]).out).toStartWith(`packets: ${third},`);
  expect(cli(["-c", "0", PCAP]).code).toBe(2);
  expect(cli(["-r", PCAP, PCAP]).code).toBe(2);
  expect(cli(["-i", "lo", PCAP]).code).toBe(2);
});

test("-w FILE writes the packets read as pcapng: tshark reads it, same bytes and times", async () => {
  for (const [src, extra] of [[PCAP, []], [PCAPNG, ["-c", "5"]]] as const) {
    const out = join(dir, "w.pcapng");
    const r = cli(["-w", out, ...extra, src]);
    expect(r.code).toBe(0);
    const a: CaptureRecord[] = [], b: CaptureRecord[] = [];
    for await (const x of (await openCapture(src)).batches()) for (const y of x) a.push({ ...y, data: y.data.slice() });
    for await (const x of (await openCapture(out)).batches()) for (const y of x) b.push({ ...y, data: y.data.slice() });
    const n = extra.length ? 5 : a.length;
    expect(b.length).toBe(n);
    for (let i = 0; i < n; i++) {
      expect(b[i].data).toEqual(a[i].data);
      expect([b[i].tsSec, b[i].tsNsec, b[i].len, b[i].linkType]).toEqual([a[i].tsSec, a[i].tsNsec, a[i].len, a[i].linkType]);
    }
    const ts = spawnSync("tshark", ["-r", out, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch", "-e", "frame.len"], { encoding: "utf8" });
    if (ts.error || ts.status !== 0) {
      if (process.env.CI === "true") throw new Error(`tshark: ${ts.error ?? ts.stderr}`);
      continue;
    }
    const rows = ts.stdout.trim().split("\n").map((l) => l.split("\t"));
    expect(rows.length).toBe(n);
    rows.forEach(([no, t, len], i) => {
      expect(Number(no)).toBe(i + 1);
      expect(t).toBe(`${a[i].tsSec}.${String(a[i].tsNsec).padStart(9, "0")}`);
      expect(Number(len)).toBe(a[i].len);
    });
  }
});

test("-w on a live source stores the packet direction in epb_flags (tshark reads it)", async () => {
  const { createPcapngFileWriter } = await import("../../lib/capture/pcapng-writer.ts");
  const f = join(dir, "dir.pcapng");
  const w = createPcapngFileWriter(f);
  const data = readFileSync(PCAP).subarray(40, 40 + 60);
  // sockaddr_ll packet types: to us, broadcast, multicast, other host, outgoing; none (a file's record)
  for (const direction of [0, 1, 2, 3, 4, undefined]) await w.write({ linkType: 1, tsSec: 1, tsNsec: 0, data, direction });
  await w.close();
  const ts = spawnSync("tshark", ["-r", f, "-T", "fields", "-e", "frame.packet_flags_direction", "-e", "frame.packet_flags_reception_type"], { encoding: "utf8" });
  if (ts.error || ts.status !== 0) {
    if (process.env.CI === "true") throw new Error(`tshark: ${ts.error ?? ts.stderr}`);
    return;
  }
  // inbound unicast / broadcast / multicast / promiscuous, outbound, no flags
  expect(ts.stdout.split("\n").slice(0, 6)).toEqual(["0x00000001\t1", "0x00000001\t3", "0x00000001\t2", "0x00000001\t4", "0x00000002\t0", "\t"]);
});

test("-i off Linux: one line that says to pipe tcpdump into `vpnkit decode -`, exit 2", async () => {
  const { openLive } = await import("../../cli/live.ts");
  const write = process.stderr.write;
  const code = process.exitCode;
  let err = "";
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  let cap, got;
  try {
    cap = await openLive("decode", { interface: "en0" }, "darwin");
    got = process.exitCode;
  } finally {
    process.stderr.write = write;
    process.exitCode = code ?? 0; // Bun keeps a code set earlier when given undefined
  }
  expect(cap).toBeNull();
  expect(got).toBe(2);
  expect(err).toStartWith("vpnkit decode: live capture needs Linux (this is darwin); pipe tcpdump into `vpnkit decode -`");
  expect(err.trim().split("\n").length).toBe(1);
});
