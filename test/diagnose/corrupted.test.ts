/**
 * Real captures with one byte changed, decoded with their keys: the
 * diagnoser reports ICV and IKE integrity failures with the packets.
 */
import { expect, test } from "bun:test";
import { openCapture } from "../../lib/capture/index.ts";
import { Decoder } from "../../lib/decode/pipeline.ts";
import { Diagnoser } from "../../lib/diagnose/diagnoser.ts";
import type { Diagnosis } from "../../lib/diagnose/types.ts";
import { loadKeyStore } from "../../lib/keys/load.ts";
import { FIX } from "../decode/helpers.ts";
import { withCode } from "./helpers.ts";

/** Decode `dir/name.pcap` with `keys`, flipping the last byte of the packets in `flip`. */
async function diagnoseFlipped(dir: string, keys: string[], flip: number[]): Promise<Diagnosis> {
  const name = dir.slice(dir.lastIndexOf("/") + 1);
  const reader = await openCapture(`${FIX}${dir}/${name}.pcap`);
  const dec = new Decoder({ keys: loadKeyStore(keys.map((k) => `${FIX}${dir}/${k}`)) });
  const dia = new Diagnoser();
  for await (const b of reader.batches()) {
    for (const r of b) {
      const data = Uint8Array.prototype.slice.call(r.data) as Uint8Array;
      if (flip.includes(r.no)) data[data.length - 1] ^= 0x01;
      dia.observe(dec.decode({ ...r, data }));
    }
  }
  return dia.report();
}

test("one ESP packet with a damaged ICV: ESP_ICV_FAIL, corruption rather than wrong keys", async () => {
  const d = await diagnoseFlipped("made/k_esp_aes128gcm16", ["esp_sa", "ikev2_decryption_table"], [9]);
  const [f] = withCode(d, "ESP_ICV_FAIL");
  expect(f.severity).toBe("error");
  expect(f.espSpis).toEqual(["f2272fd6"]);
  expect(f.packets).toEqual([9]);
  expect(f.data).toEqual({ good: 3, bad: 1 });
  expect(f.explanation[0]).toContain("corrupted");
  expect(d.espSas.find((e) => e.spi === "f2272fd6")!.icv).toEqual({ good: 3, bad: 1, none: 0 });
});

test("every ESP packet of an SA fails: wrong keys", async () => {
  const d = await diagnoseFlipped("made/k_esp_aes128gcm16", ["esp_sa"], [8, 10, 12, 14]);
  const [f] = withCode(d, "ESP_ICV_FAIL");
  expect(f.espSpis).toEqual(["420a3f34"]);
  expect(f.packets).toEqual([8, 10, 12, 14]);
  expect(f.explanation[0]).toContain("keys used for this SPI are wrong");
});

test("an encrypted IKE_AUTH response that fails its integrity check: IKE_INTEGRITY_FAILED, no guess at the cause", async () => {
  const d = await diagnoseFlipped("strongswan/f1_ikev2_auth_failed", ["ikev2_decryption_table"], [6]);
  const [f] = withCode(d, "IKE_INTEGRITY_FAILED");
  expect(f.severity).toBe("error");
  expect(f.packets).toEqual([6]);
  expect(withCode(d, "AUTH_FAILED")).toEqual([]);
  expect(d.ikeSas[0].timeline.find((t) => t.no === 6)!.protection).toBe("integrity-bad");
});

test("IKE_AUTH whose first IP fragment was lost (i_ikev2_ipfrag without packet 5, cut after 7): IKE_FRAGMENT_LOSS from the orphan fragments", async () => {
  const reader = await openCapture(`${FIX}made/i_ikev2_ipfrag/i_ikev2_ipfrag.pcap`);
  const dec = new Decoder();
  const dia = new Diagnoser();
  for await (const b of reader.batches()) {
    for (const r of b) if (r.no !== 5 && r.no <= 7) dia.observe(dec.decode({ ...r, data: Uint8Array.prototype.slice.call(r.data) as Uint8Array }));
  }
  const d = dia.report();
  const [f] = withCode(d, "IKE_FRAGMENT_LOSS");
  expect(f.severity).toBe("error");
  expect(f.packets).toEqual([6, 7]);
  expect(f.data!.orphanDatagrams).toEqual([{ src: "192.0.2.1", dst: "192.0.2.2", id: 0x6f95, packets: [6, 7] }]);
  expect(f.summary).toContain("most likely the IKE_AUTH message");
});
