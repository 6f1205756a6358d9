/// <reference lib="dom" />
/**
 * Opens generated reports in headless Chromium (Debian's `chromium`, driven
 * by puppeteer-core over a pipe) and checks that every picture loads and
 * nothing is reported as an error. Skipped when /usr/bin/chromium is absent.
 */

import assert from "node:assert/strict";
import { chromiumAvailable, launchChromium } from "./_chromium.ts";
import { writeReport } from "../src/report/mod.ts";
import { syntheticReportData } from "./_report_fixture.ts";

const installed = chromiumAvailable("report_browser_test");

Deno.test({
  name: "report.html renders offline in Chromium with every image loaded",
  ignore: !installed,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "simdnet_report_browser_" });
    const data = syntheticReportData(7);
    const { browser, close } = await launchChromium();
    try {
      for (const lang of ["en", "ja"] as const) {
        await writeReport(`${dir}/${lang}`, data, lang);
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error" || m.type() === "warn") {
            problems.push(`console ${m.type()}: ${m.text()}`);
          }
        });
        page.on("pageerror", (e) => problems.push(`page error: ${e}`));
        page.on("requestfailed", (r) => problems.push(`failed: ${r.url()}`));
        page.on("request", (r) => {
          if (!/^(file|data):/.test(r.url())) {
            problems.push(`external request: ${r.url()}`);
          }
        });
        await page.setViewport({ width: 1200, height: 900 });
        await page.goto(`file://${dir}/${lang}/report.html`, {
          waitUntil: "load",
        });

        const state = await page.evaluate(() => {
          const images = [...document.images];
          const first = images[0]!;
          const canvas = document.createElement("canvas");
          canvas.width = first.naturalWidth;
          canvas.height = first.naturalHeight;
          const ctx = canvas.getContext("2d")!;
          ctx.drawImage(first, 0, 0);
          // One readback of the whole tile (several small ones make Chromium warn).
          const all = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
          const pixel = (x: number, y: number) => {
            const i = (y * canvas.width + x) * 4;
            return [...all.subarray(i, i + 4)];
          };
          return {
            lang: document.documentElement.lang,
            images: images.map((i) => ({
              complete: i.complete,
              width: i.naturalWidth,
              height: i.naturalHeight,
            })),
            svgWidths: [...document.querySelectorAll("svg")].map((s) =>
              s.getBoundingClientRect().width
            ),
            firstPixels: [pixel(0, 0), pixel(127, 127), pixel(45, 90)],
            headings: [...document.querySelectorAll("h2")].map((h) =>
              h.textContent
            ),
          };
        });
        assert.deepEqual(
          problems,
          [],
          `${lang}: no errors or outside requests`,
        );
        assert.equal(state.lang, lang);
        assert.equal(
          state.images.length,
          25 + 15 + 1 + 4,
          `${lang}: image count`,
        );
        state.images.forEach((image, i) => {
          assert.ok(
            image.complete && image.width > 0 && image.height > 0,
            `${lang}: image ${i} decoded`,
          );
        });
        assert.equal(state.svgWidths.length, 2);
        assert.ok(
          state.svgWidths.every((w) => w > 100),
          `${lang}: charts have a size`,
        );
        assert.equal(state.headings.length, 7);
        // The browser decodes the first training tile to the source pixels, enlarged 4×.
        const source = data.trainSamples!.images;
        [[0, 0], [127, 127], [45, 90]].forEach(([x, y], k) => {
          const s = (Math.floor(y! / 4) * 32 + Math.floor(x! / 4)) * 3;
          assert.deepEqual(state.firstPixels[k], [
            source[s],
            source[s + 1],
            source[s + 2],
            255,
          ]);
        });
        await page.close();
      }
    } finally {
      await close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
