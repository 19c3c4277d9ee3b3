/**
 * Diagnostics: why a tunnel did not come up, or what went wrong in it.
 * @module
 */
export { Diagnoser, type DiagnoserOptions } from "./diagnoser.ts";
export { keysText, renderDiagnosisJson, renderDiagnosisText, type DiagnosisTextOptions } from "./render.ts";
export { renderDiagnosisHtml, type DiagnosisHtmlOptions } from "./html.ts";
export { esc as escapeHtml, renderLadder } from "./ladder.ts";
export type * from "./types.ts";
export { diagnoseCapture, type DiagnoseCaptureOptions } from "./run.ts";
