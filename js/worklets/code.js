// The worklet sources as strings. This file is a placeholder for node tests and
// unbundled use: js/build.mjs replaces it with the bundled (IIFE) code of
// capture.js and player.js, which the engine loads from Blob URLs.
export const CAPTURE_WORKLET = "";
export const PLAYER_WORKLET = "";
