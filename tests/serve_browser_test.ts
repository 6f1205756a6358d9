/// <reference lib="dom" />
/**
 * The service's page in headless Chromium (Debian's `chromium` driven by
 * puppeteer-core): upload an image, see it and its predicted labels as
 * bars; drop an image; see the reason when a file is no image. Skipped
 * when /usr/bin/chromium is absent.
 */

import assert from "node:assert/strict";
import { chromiumAvailable, launchChromium } from "./_chromium.ts";
import { modelToArtifacts } from "../src/nn/model_io.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { serveClassifier } from "../src/serve/server.ts";
import { pattern, png, tinyModel } from "./classify_fixtures.ts";

const installed = chromiumAvailable("serve_browser_test");

Deno.test({
  name:
    "serve page: upload or drop an image in Chromium and see its predicted labels",
  ignore: !installed,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "simdnet_serve_browser_" });
    const { json, weights } = await modelToArtifacts(tinyModel(71));
    const classifier = await Classifier.fromBytes(json, weights, {
      backend: "cpu",
    });
    const service = serveClassifier(classifier, {
      hostname: "127.0.0.1",
      port: 0,
      lang: "ja",
    });
    const url = `http://127.0.0.1:${service.addr.port}/`;
    const { browser, close } = await launchChromium();
    try {
      const image = png(pattern(48, 40, 3, 5), 48, 40, 3);
      const path = `${dir}/picture.png`;
      await Deno.writeFile(path, image);
      const want = await classifier.classify(image);

      const page = await browser.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(`page error: ${e}`));
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      await page.goto(url, { waitUntil: "load" });
      const input = await page.$("input#file");
      assert.ok(input, "the page has a file input");
      await input.uploadFile(path);
      await page.waitForFunction(() => document.body.dataset.state === "done");
      const shown = await page.evaluate(() => ({
        labels: [...document.querySelectorAll("#results .label")].map((e) =>
          e.textContent
        ),
        percents: [...document.querySelectorAll("#results .pct")].map((e) =>
          e.textContent
        ),
        bars: [...document.querySelectorAll<HTMLElement>("#results .bar > div")]
          .map((e) =>
            e.getBoundingClientRect().width /
            e.parentElement!.getBoundingClientRect().width
          ),
        preview: (() => {
          const img = document.querySelector<HTMLImageElement>("#preview")!;
          return { shown: !img.hidden, width: img.naturalWidth };
        })(),
      }));
      assert.deepEqual(shown.labels, want.map((p) => p.labelJa));
      assert.deepEqual(
        shown.percents,
        want.map((p) => `${(100 * p.probability).toFixed(1)}%`),
      );
      shown.bars.forEach((fraction, i) =>
        assert.ok(Math.abs(fraction - want[i]!.probability) < 0.02)
      );
      assert.deepEqual(shown.preview, { shown: true, width: 48 });

      // Dropping a second picture replaces the answer.
      const other = png(pattern(20, 30, 1, 6), 20, 30, 1);
      const wantOther = await classifier.classify(other);
      await page.evaluate((bytes: number[]) => {
        document.body.dataset.state = "";
        const file = new File([new Uint8Array(bytes)], "drop.png", {
          type: "image/png",
        });
        const data = new DataTransfer();
        data.items.add(file);
        document.getElementById("drop")!.dispatchEvent(
          new DragEvent("drop", { dataTransfer: data, bubbles: true }),
        );
      }, [...other]);
      await page.waitForFunction(() => document.body.dataset.state === "done");
      const dropped = await page.$$eval(
        "#results .label",
        (els) => els.map((e) => e.textContent),
      );
      assert.deepEqual(dropped, wantOther.map((p) => p.labelJa));

      // A file that is no image: the server's reason is shown.
      const bad = `${dir}/notes.png`;
      await Deno.writeTextFile(bad, "just text");
      await input.uploadFile(bad);
      await page.waitForFunction(() => document.body.dataset.state === "error");
      const status = await page.$eval("#status", (e) => e.textContent);
      assert.match(status ?? "", /neither a PNG nor a JPEG/);
      // Only the failed POST itself may be logged by the browser.
      assert.deepEqual(
        problems.filter((p) => !/status of 400/.test(p)),
        [],
      );
      await page.close();
    } finally {
      await close();
      await service.server.shutdown();
      classifier.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
