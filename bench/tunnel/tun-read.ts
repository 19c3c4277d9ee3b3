/**
 * TUN read-path micro-benchmark: how many packets/s can Bun pull out of a TUN fd?
 *
 *   bun bench/tunnel/tun-read.ts [epoll|poll|stream] [seconds=2] [size=1400]
 *
 * Runs inside a fresh network namespace "vtbench" (created and deleted here; root needed).
 * A sender child process blasts UDP datagrams at 10.98.0.2 (routed into the TUN) for
 * `seconds`; the reader counts packets and bytes.
 *
 *  - epoll:  TunDevice.onPacket, reader "epoll" (Worker in edge-triggered epoll_wait, main-thread read() drain)
 *  - poll:   TunDevice.onPacket, reader "poll" (Worker in poll(), re-armed with Atomics.notify after each drain)
 *  - stream: Bun.file(fd).stream() (Bun's own event-loop reader); chunks are re-split by IP length
 */
import { spawn, spawnSync } from "node:child_process";

const mode = process.argv[2] ?? "poll";
const secs = Number(process.argv[3] ?? 2);
const size = Number(process.argv[4] ?? 1400);

if (!process.env.VT_IN_NS) {
  spawnSync("ip", ["netns", "del", "vtbench"], { stdio: "ignore" });
  spawnSync("ip", ["netns", "add", "vtbench"]);
  try {
    const r = spawnSync("ip", ["netns", "exec", "vtbench", process.execPath, import.meta.path, ...process.argv.slice(2)], {
      stdio: "inherit", env: { ...process.env, VT_IN_NS: "1" }, timeout: (secs + 20) * 1000,
    });
    process.exitCode = r.status ?? 1;
  } finally {
    spawnSync("ip", ["netns", "del", "vtbench"]);
  }
} else {
  const { TunDevice, configureLink } = await import("../../lib/platform/bun/tun.ts");
  const tun = TunDevice.open({ name: "vtbench0", reader: mode === "poll" ? "poll" : "epoll" });
  configureLink(tun.name, { mtu: 1500, addresses: ["10.98.0.1/24"], routes: [] });
  spawnSync("ip", ["link", "set", "lo", "up"]);
  let pkts = 0, bytes = 0, chunks = 0, merged = 0;
  let counting = false;
  const onPkt = (p: Uint8Array) => {
    if (!counting) return;
    pkts++;
    bytes += p.length;
  };
  if (mode === "poll" || mode === "epoll") {
    tun.onPacket(onPkt);
  } else if (mode === "stream") {
    (async () => {
      for await (const c of Bun.file(tun.fd).stream() as unknown as AsyncIterable<Uint8Array>) {
        chunks++;
        let o = 0, k = 0;
        while (o + 20 <= c.length) {
          const v = c[o] >> 4;
          const len = v === 4 ? (c[o + 2] << 8) | c[o + 3] : ((c[o + 4] << 8) | c[o + 5]) + 40;
          if (len <= 0 || o + len > c.length) break;
          onPkt(c.subarray(o, o + len));
          o += len;
          k++;
        }
        if (k > 1) merged++;
      }
    })();
  } else throw new Error(`mode ${mode}?`);
  const sender = `
    const dgram = require("node:dgram");
    const s = dgram.createSocket("udp4");
    const buf = Buffer.alloc(${size - 28}, 7);
    const end = Date.now() + ${secs * 1000};
    let n = 0;
    function burst() {
      for (let i = 0; i < 256 && n < 5e6; i++, n++) s.send(buf, 9, "10.98.0.2");
      if (Date.now() < end && n < 5e6) setImmediate(burst); else setTimeout(() => { console.error("sent " + n); process.exit(0); }, 100);
    }
    burst();`;
  await new Promise((r) => setTimeout(r, 300));
  counting = true;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const child = spawn(process.execPath, ["-e", sender], { stdio: ["ignore", "ignore", "inherit"] });
  await new Promise((r) => child.once("exit", r));
  await new Promise((r) => setTimeout(r, 200));
  counting = false;
  const dt = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const rx = JSON.parse(spawnSync("ip", ["-s", "-j", "link", "show", "dev", tun.name]).stdout.toString())[0].stats64;
  console.log(JSON.stringify({
    mode, size, secs: +dt.toFixed(2), pkts, kpps: +(pkts / dt / 1000).toFixed(1), mbit: +((bytes * 8) / dt / 1e6).toFixed(0),
    readerCpuPct: +(((cpu.user + cpu.system) / 1e6 / dt) * 100).toFixed(0), wakeups: tun.stats.wakeups, chunks, merged,
    tunTxDropped: rx.tx.dropped, tunTxPackets: rx.tx.packets,
  }));
  tun.close();
  process.exit(0);
}
