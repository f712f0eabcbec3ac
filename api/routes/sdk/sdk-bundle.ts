import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The SDK's entry points (the page's script, the service worker's), and the project they are checked in (DOM, no Node). */
const ENTRIES = {
  sdk: fileURLToPath(new URL('../../sdk/nudge.ts', import.meta.url)),
  serviceWorker: fileURLToPath(new URL('../../sdk/nudge-sw.ts', import.meta.url)),
} as const;
const TSCONFIG = fileURLToPath(new URL('../../sdk/tsconfig.json', import.meta.url));

export type SdkBundle = {
  readonly code: string;
  /** A strong validator of `code`: equal bundles, equal tags, on every API process. */
  readonly etag: string;
};

const bundles = new Map<keyof typeof ENTRIES, Promise<SdkBundle>>();

/**
 * The browser SDK as one script (issue #16: no build step for the user, the project's own for
 * the source): `api/sdk/nudge.ts` (and the service worker, `api/sdk/nudge-sw.ts`) bundled in
 * memory by esbuild, an IIFE (a classic `<script src>` or `importScripts`, no module loader
 * needed), minified, ES2020 syntax for the browsers of the last few years. Built on the first
 * request and kept for the life of the process, so a process that never serves the SDK never
 * pays for it; a failed build is tried again on the next request.
 */
export function sdkBundle(entry: keyof typeof ENTRIES = 'sdk'): Promise<SdkBundle> {
  const built =
    bundles.get(entry) ??
    buildBundle(ENTRIES[entry]).catch((error: unknown) => {
      bundles.delete(entry);
      throw error;
    });
  bundles.set(entry, built);
  return built;
}

async function buildBundle(entry: string): Promise<SdkBundle> {
  const result = await build({
    entryPoints: [entry],
    tsconfig: TSCONFIG,
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.text ?? '';
  const etag = `"${createHash('sha256').update(code).digest('base64url').slice(0, 32)}"`;
  return { code, etag };
}
