import type { Page } from "playwright-core";

// Code run in the page by page.evaluate: the browser's globals, untyped here, where
// the project's types are Node's.
declare const document: any, getComputedStyle: any, Node: any;

/**
 * The texts on the page whose contrast with what is behind them is below WCAG AA's
 * 4.5:1, each as "text (ratio)". The background is the nearest ancestor's opaque
 * background colour; SVG and visually hidden text are left out.
 */
export function lowContrastTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const rgb = (colour: string) => (colour.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r, g, b]: (number | undefined)[]) => {
      const [R, G, B] = [r, g, b].map((v) => {
        const c = (v ?? 0) / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * (R ?? 0) + 0.7152 * (G ?? 0) + 0.0722 * (B ?? 0);
    };
    const backgroundOf = (start: any) => {
      for (let e = start; e !== null; e = e.parentElement) {
        const [r, g, b, a] = rgb(getComputedStyle(e).backgroundColor);
        if (a === undefined || a > 0.5) return [r, g, b];
      }
      return [255, 255, 255];
    };
    const low: string[] = [];
    for (const e of document.querySelectorAll("body *")) {
      if (e.closest("svg, .visually-hidden") !== null) continue;
      const own = [...e.childNodes].some(
        (n: any) =>
          n.nodeType === Node.TEXT_NODE && (n.textContent ?? "").trim() !== "",
      );
      if (!own || e.getClientRects().length === 0) continue;
      const fore = luminance(rgb(getComputedStyle(e).color));
      const back = luminance(backgroundOf(e));
      const ratio =
        (Math.max(fore, back) + 0.05) / (Math.min(fore, back) + 0.05);
      if (ratio < 4.5)
        low.push(
          `${(e.textContent ?? "").trim().slice(0, 40)} (${ratio.toFixed(2)})`,
        );
    }
    return low;
  });
}
