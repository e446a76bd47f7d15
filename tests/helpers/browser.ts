// Headless Chromium for page tests: the system's /usr/bin/chromium driven by playwright-core,
// with the flags that keep it quiet and fast in a container (no sandbox, GPU, QUIC or
// background traffic).
import { type Browser, chromium } from 'playwright-core';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
