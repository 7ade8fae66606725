/** Replaced by esbuild at bundle time with the version from package.json. */
declare const __VERSION__: string;
