/** Settings a command needs from its first allocation; see startup-settings.js. */
export interface StartupSettings {
  /** node/V8 flags, placed before the script */
  v8Flags: string[];
  /** environment variables, set unless already set */
  env: Record<string, string>;
}

export declare const STARTUP_SETTINGS: { peer: StartupSettings; scheduler: StartupSettings };
