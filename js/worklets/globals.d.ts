// The AudioWorkletGlobalScope, for type checking the worklets (TypeScript's DOM lib
// describes the page side only). https://webaudio.github.io/web-audio-api/#AudioWorkletGlobalScope
declare class AudioWorkletProcessor {
  constructor(options?: unknown);
  readonly port: MessagePort;
}
declare const sampleRate: number;
declare const currentFrame: number;
declare const currentTime: number;
declare function registerProcessor(
  name: string,
  processorCtor: new (options?: any) => AudioWorkletProcessor,
): void;
