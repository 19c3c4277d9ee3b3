// Regular files are read straight into a buffer per chunk (lib/capture/reader.ts fileChunks):
// every record equals what the stream reader (stdin path) gives, record views stay valid
// after later chunks were read, and the file is closed when reading ends or stops early.
import { expect, test } from "bun:test";
import { createReadStream, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openCapture, openCaptureStream } from "../../lib/capture/index.ts";
import type { CaptureRecord } from "../../lib/capture/types.ts";

const FIX = join(import.meta.dir, "../../fixtures");
const mixA = "/tmp/vpnkit-bench/mix-a/mix_a_100000.pcap";

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

async function all(r: Awaited<ReturnType<typeof openCapture>>): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  for await (const b of r.batches()) out.push(...b); // views kept past later chunks on purpose
  return out;
}

test("file reader == stream reader on the fixtures, views valid after the whole file was read", async () => {
  const files = [join(FIX, "strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap"), join(FIX, "strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256.pcapng")];
  for (const f of files) {
    const a = await all(await openCapture(f));
    const b = await all(await openCaptureStream(createReadStream(f, { highWaterMark: 4096 })));
    expect(a.length).toBeGreaterThan(10);
    expect(a.length).toBe(b.length);
    for (let i = 0; i < a.length; i++) {
      expect(a[i].no).toBe(b[i].no);
      expect(a[i].tsNsec).toBe(b[i].tsNsec);
      expect(Buffer.from(a[i].data).equals(Buffer.from(b[i].data))).toBe(true);
    }
  }
});

// the bench capture (made by bench/decode/mixes.sh) when present: 230 chunks
test.skipIf(!existsSync(mixA))("file reader: a file of many 512 KiB chunks, every record byte-equal to the file, views valid to the end", async () => {
  const f = mixA;
  const whole = readFileSync(f);
  const recs = await all(await openCapture(f));
  expect(recs.length).toBe(100000);
  // classic pcap: 24-byte header, then 16-byte record headers
  let p = 24;
  for (const r of recs) {
    p += 16;
    expect(r.data.length).toBe(r.caplen);
    if (r.no % 997 === 0 || r.no === recs.length) expect(Buffer.from(r.data).equals(whole.subarray(p, p + r.caplen))).toBe(true);
    p += r.caplen;
  }
  expect(p).toBe(whole.length);
});

test("file reader closes the file at the end and when the consumer stops early", async () => {
  const f = join(FIX, "strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap");
  const before = openFds();
  await all(await openCapture(f));
  expect(openFds()).toBe(before);
  const r = await openCapture(f, { batchSize: 1 });
  for await (const b of r.batches()) {
    expect(b.length).toBe(1);
    break;
  }
  expect(openFds()).toBe(before);
});
