/**
 * Headless Chromium for the browser tests: Debian's `chromium`, driven by
 * puppeteer-core over a pipe with a throwaway profile, no network extras.
 */

import puppeteer, { type Browser } from "puppeteer-core";

const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is installed; warns, naming `test`, when it is not. */
export function chromiumAvailable(test: string): boolean {
  try {
    if (Deno.statSync(CHROMIUM).isFile) return true;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  console.warn(
    `${test}: ${CHROMIUM} not found, so the browser test is skipped (install it with: apt-get install -y chromium)`,
  );
  return false;
}

/**
 * A headless browser; `close()` also removes its profile. Without a GPU, or
 * with `webgpu` WebGPU on SwiftShader, Chromium's CPU Vulkan: a software
 * adapter, which is what a test of the software-adapter rule needs.
 */
export async function launchChromium(
  options: { webgpu?: boolean } = {},
): Promise<
  { browser: Browser; close: () => Promise<void> }
> {
  const profile = await Deno.makeTempDir({ prefix: "simdnet_chromium_" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    pipe: true,
    userDataDir: profile,
    args: [
      "--headless",
      "--no-sandbox",
      ...(options.webgpu
        ? ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"]
        : ["--disable-gpu"]),
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      await Deno.remove(profile, { recursive: true });
    },
  };
}
