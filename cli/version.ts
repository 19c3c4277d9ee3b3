/** Version string: stamped at build time by scripts/build.ts, else package.json + "-dev". */
import pkg from "../package.json" with { type: "json" };

declare const VPNKIT_VERSION: string | undefined;

export const version: string = typeof VPNKIT_VERSION === "string" ? VPNKIT_VERSION : `${pkg.version}-dev`;
