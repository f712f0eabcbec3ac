import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The SDK's entry point, and the project its types are checked in (DOM, no Node). */
const ENTRY = fileURLToPath(new URL('../../sdk/nudge.ts', import.meta.url));
const TSCONFIG = fileURLToPath(new URL('../../sdk/tsconfig.json', import.meta.url));

export type SdkBundle = {
  readonly code: string;
  /** A strong validator of `code`: equal bundles, equal tags, on every API process. */
  readonly etag: string;
};

let bundle: Promise<SdkBundle> | undefined;

/**
 * The browser SDK as one script (issue #16: no build step for the user, the project's own for
 * the source): `api/sdk/nudge.ts` bundled in memory by esbuild, an IIFE (a classic
 * `<script src>`, no module loader needed), minified, ES2020 syntax for the browsers of the last
 * few years. Built on the first request and kept for the life of the process, so a process
 * that never serves the SDK never pays for it; a failed build is tried again on the next request.
 */
export function sdkBundle(): Promise<SdkBundle> {
  bundle ??= buildBundle().catch((error: unknown) => {
    bundle = undefined;
    throw error;
  });
  return bundle;
}

async function buildBundle(): Promise<SdkBundle> {
  const result = await build({
    entryPoints: [ENTRY],
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
