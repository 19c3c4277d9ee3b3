// Runs under Deno: the library (mod.ts) decodes a real strongSwan capture.
import { Decoder, openCapture, summaryLine } from "../../mod.ts";

Deno.test("mod.ts decodes a real strongSwan capture on Deno", async () => {
  const reader = await openCapture(new URL("../../fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap", import.meta.url).pathname);
  const dec = new Decoder();
  const lines: string[] = [];
  for await (const batch of reader.batches()) for (const r of batch) lines.push(summaryLine(dec.decode(r)));
  if (lines.length !== 16) throw new Error(`expected 16 packets, got ${lines.length}`);
  if (!lines[2].includes("IKEv2 IKE_SA_INIT request I mid 0")) throw new Error(`packet 3: ${lines[2]}`);
  if (!lines[6].includes("ESP spi 0xc4ba5861 seq 1")) throw new Error(`packet 7: ${lines[6]}`);
  const st = dec.stats();
  if (st.ikeSas.length !== 1 || st.ikeSas[0].outcome !== "established") throw new Error(JSON.stringify(st.ikeSas));
  if (st.espSas.length !== 2) throw new Error("expected 2 ESP SAs");
});

Deno.test("mod.ts decrypts ESP with a Wireshark esp_sa file on Deno", async () => {
  const { loadKeyStore } = await import("../../mod.ts");
  const base = new URL("../../fixtures/strongswan/a_ikev2_psk_gcm_natt/", import.meta.url).pathname;
  const keys = loadKeyStore([`${base}esp_sa`]);
  const reader = await openCapture(`${base}a_ikev2_psk_gcm_natt.pcap`);
  const dec = new Decoder({ keys });
  let good = 0;
  for await (const batch of reader.batches()) for (const r of batch) if (summaryLine(dec.decode(r)).includes("ICV good")) good++;
  if (good !== 8) throw new Error(`expected 8 ESP packets with a good ICV, got ${good}`);
});
