// What the viz page's canvas map shows, read in the page through its debugging handle
// (window.sectorView): counts from the renderer's last frame, and colours read back from the
// canvas's pixels, so a test sees what a person would.
import { type Browser, chromium, type Page } from 'playwright-core';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

interface MapHandle {
  map: {
    stats: { systemsDrawn: number; lanesDrawn: number; labels: number; mode: string; labelBoxes?: number[][] };
    camera: { cx: number; cy: number; scale: number };
    discPoint(id: number): { x: number; y: number; r: number } | null;
    screenOf(id: number): { x: number; y: number; r: number } | null;
    fleetPoint(id: number): { x: number; y: number } | null;
    colorAt(x: number, y: number): string;
    zoomBy(f: number): void;
    centerOn(id: number, scale?: number): void;
  };
}
declare global {
  interface Window {
    sectorView: MapHandle & Record<string, unknown>;
  }
}

/** Systems in the renderer's last frame (all of them when the whole world is in view). */
export const systemsDrawn = (page: Page) => page.evaluate(() => window.sectorView?.map?.stats?.systemsDrawn ?? 0);

/** The colour the map shows inside a system's disc (clear of its garrison figure), as #rrggbb. */
export const systemColor = (page: Page, id: number) =>
  page.evaluate((sid) => {
    const p = window.sectorView.map.discPoint(sid);
    return p ? window.sectorView.map.colorAt(p.x, p.y) : null;
  }, id);

export const pageTick = (page: Page) => page.evaluate(() => Number(document.getElementById('tick')?.textContent));
