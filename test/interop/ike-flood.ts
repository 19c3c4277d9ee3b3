/**
 * Test helper (run inside a namespace): send COUNT valid IKE_SA_INIT requests to DST:500
 * from the given source addresses in turn (a new initiator SPI each), at most RATE per
 * second, and count the answers by kind. Prints one JSON line. Bounded in count and time.
 *
 *   bun test/interop/ike-flood.ts DST COUNT RATE SRC1,SRC2,...
 */
import { createSocket, type Socket } from "node:dgram";
import { IkeSa } from "../../lib/ike/v2/sa/ike-sa.ts";

const [dst, countS, rateS, srcList] = process.argv.slice(2);
const count = Math.min(Number(countS), 100_000);
const rate = Math.max(1, Number(rateS));
const srcs = srcList.split(",");

const { actions } = IkeSa.initiator({
  local: { address: srcs[0], port: 500 }, remote: { address: dst, port: 500 }, localId: "flood@example.org", psk: "flood-psk-0123456789",
  localTs: ["10.99.0.0/24"], remoteTs: ["10.98.0.0/24"],
}, 0);
const first = actions.find((a) => a.type === "send");
if (!first || first.type !== "send") throw new Error("no IKE_SA_INIT");
const template = first.data;

const answers = { cookie: 0, init: 0, other: 0 };
const socks: Socket[] = [];
for (const s of srcs) {
  const sock = createSocket("udp4");
  sock.on("message", (m) => {
    const n = m.length >= 36 && m[16] === 41 ? (m[34] << 8) | m[35] : -1;
    if (n === 16390) answers.cookie++;
    else if (m[16] === 33) answers.init++;
    else answers.other++;
  });
  await new Promise<void>((r) => sock.bind(0, s, () => r()));
  socks.push(sock);
}

const t0 = Date.now();
let sent = 0;
for (let n = 0; n < count && Date.now() - t0 < 60_000; n++) {
  const d = template.slice();
  new DataView(d.buffer).setUint32(0, 0x0f000000 + n);
  socks[n % socks.length].send(d, 500, dst);
  sent++;
  // pace: RATE per second
  const due = t0 + (1000 * (n + 1)) / rate;
  const wait = due - Date.now();
  if (wait > 0) await Bun.sleep(wait);
}
await Bun.sleep(1000);
for (const s of socks) s.close();
console.log(JSON.stringify({ sent, seconds: (Date.now() - t0) / 1000, ...answers }));
