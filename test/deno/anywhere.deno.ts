// Runs under Deno: a script in a temporary directory OUTSIDE the repository imports
// <repo>/mod.ts and decrypts a real capture (the @noble/* AEADs), offline: `--cached-only`,
// the npm packages come from the repository's node_modules ("nodeModulesDir": "manual" in
// deno.json, whose "imports" map names them with npm: specifiers).
// Needs --allow-run --allow-write (scripts/test.sh passes them).

const repo = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("mod.ts imported from a script outside the repository (offline, local node_modules)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vko-deno-" });
  try {
    if (dir.startsWith(repo + "/")) throw new Error(`temp dir ${dir} is inside the repository`);
    const base = `${repo}/fixtures/strongswan/a_ikev2_psk_gcm_natt/`;
    await Deno.writeTextFile(`${dir}/main.ts`, `import { Decoder, loadKeyStore, openCapture, summaryLine } from "${repo}/mod.ts";
const dec = new Decoder({ keys: loadKeyStore(["${base}esp_sa"]) });
const reader = await openCapture("${base}a_ikev2_psk_gcm_natt.pcap");
let good = 0;
for await (const batch of reader.batches()) for (const r of batch) if (summaryLine(dec.decode(r)).includes("ICV good")) good++;
console.log("good", good);
`);
    const deno = Deno.execPath();
    // 1: with the repository's deno.json (its imports map and nodeModulesDir), as a user would
    // 2: with no config at all, only --node-modules-dir=manual (node resolution from mod.ts's folder)
    for (const args of [["--config", `${repo}/deno.json`], ["--node-modules-dir=manual"]]) {
      const out = await new Deno.Command(deno, {
        args: ["run", "--cached-only", "--allow-read", "--allow-env", "--allow-sys", ...args, `${dir}/main.ts`],
        cwd: dir, stdout: "piped", stderr: "piped", env: { DENO_NO_UPDATE_CHECK: "1" },
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      if (!out.success || !text.includes("good 8")) throw new Error(`deno run ${args.join(" ")}: ${text}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
