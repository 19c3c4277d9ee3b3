/**
 * Diagnostics: why a tunnel did not come up, or what went wrong in it.
 * @module
 */
export { Diagnoser, type DiagnoserOptions } from "./diagnoser.ts";
export { renderDiagnosisJson, renderDiagnosisText, type DiagnosisTextOptions } from "./render.ts";
export type * from "./types.ts";
export { diagnoseCapture, type DiagnoseCaptureOptions } from "./run.ts";
