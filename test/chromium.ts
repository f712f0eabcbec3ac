import type { Browser } from 'playwright-core';
import { chromium } from 'playwright-core';

/**
 * Debian's Chromium, headless, for the browser tests: no sandbox (the tests run as root), and none
 * of its own traffic (updates, sync), which the machines' network refuses and would only slow it.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
