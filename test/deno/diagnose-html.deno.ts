// Runs under Deno: the diagnosis and its HTML report (lib/diagnose is runtime-neutral).
import { openCapture } from "../../mod.ts";
import { diagnoseCapture, renderDiagnosisHtml } from "../../lib/diagnose/mod.ts";

Deno.test("diagnose --html renders on Deno: one ladder, one arrow per IKE message (f1: 4)", async () => {
  const reader = await openCapture(new URL("../../fixtures/strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed.pcap", import.meta.url).pathname);
  const d = await diagnoseCapture(reader);
  const html = renderDiagnosisHtml(d, { title: "f1 <x>" });
  const ladders = html.match(/<svg [^>]*class="ladder"/g)?.length ?? 0;
  const arrows = html.match(/<g class="msg /g)?.length ?? 0;
  if (ladders !== 1 || arrows !== 4) throw new Error(`expected 1 ladder and 4 arrows, got ${ladders} and ${arrows}`);
  if (!html.includes("vpnkit diagnose: f1 &lt;x&gt;")) throw new Error("title not escaped");
});
