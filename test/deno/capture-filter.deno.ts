// Runs under Deno: the capture filter from mod.ts filters a real capture and compiles to BPF.
import { compileCaptureFilter, compileCaptureFilterBpf, openCapture } from "../../mod.ts";

Deno.test("mod.ts capture filter keeps the IKE_SA_INIT packets of a real capture on Deno", async () => {
  const reader = await openCapture(new URL("../../fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap", import.meta.url).pathname);
  const f = compileCaptureFilter("udp port 500");
  const kept: number[] = [];
  for await (const batch of reader.batches()) for (const r of batch) if (f.match(r.linkType, r.data)) kept.push(r.no);
  if (kept.join(",") !== "3,4") throw new Error(`kept ${kept}`);
  const prog = compileCaptureFilterBpf(f.ast, 1);
  if (!prog || prog[prog.length - 1].code !== 0x06) throw new Error("no BPF program");
});
