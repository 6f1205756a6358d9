/**
 * The web page of `GET /`: choose or drop an image, see it with its top-3
 * classes as bars. One self-contained document (inline style and script,
 * no outside requests), in English or Japanese.
 *
 * @module
 */

import type { Lang } from "../data/classes.ts";
import type { TtaOptions } from "../train/tta.ts";

const TEXT = {
  en: {
    title: "simdnet CIFAR-10 classifier",
    intro:
      "Choose or drop a PNG or JPEG image. It is resized to 32×32 and classified on the server.",
    choose: "Choose an image",
    drop: "or drop it here",
    working: "Classifying…",
    failed: "Could not classify:",
    top: "Top classes",
    tab: "Run in this tab (the image is not uploaded)",
    tabLoading: "Loading the model into this tab…",
    tabRan: "Classified in this tab: {backend}, {threads} thread(s)",
  },
  ja: {
    title: "simdnet CIFAR-10 画像分類",
    intro:
      "PNG または JPEG 画像を選ぶかドロップしてください。32×32 に縮小してサーバーで分類します。",
    choose: "画像を選ぶ",
    drop: "またはここにドロップ",
    working: "分類中…",
    failed: "分類できませんでした:",
    top: "上位のクラス",
    tab: "このタブで実行（画像をアップロードしません）",
    tabLoading: "モデルをこのタブに読み込み中…",
    tabRan: "このタブで分類しました: {backend}、{threads} スレッド",
  },
} as const;

/** How the page's "run in this tab" classifier is made. */
export interface TabOptions {
  /** The server's test-time augmentation, which the tab applies too. */
  tta: TtaOptions | null;
}

/**
 * The page in `lang`; `nonce` authorises its inline style and script under
 * the CSP. With `inTab`, a switch runs the classifier in the tab: the page
 * imports `simdnet.js` and `model/model.json` from the server (see
 * `tab_assets.ts`) and no image leaves the browser.
 */
export function classifierPage(
  lang: Lang,
  nonce: string,
  inTab?: TabOptions,
): string {
  const t = TEXT[lang];
  const tabSwitch = inTab
    ? `<p><label><input id="in-tab" type="checkbox"> ${t.tab}</label></p>\n`
    : "";
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t.title}</title>
<style nonce="${nonce}">
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
#drop { display: block; border: 2px dashed #888; border-radius: 8px; padding: 1.5rem; text-align: center; cursor: pointer; }
#drop.over { border-color: #1f6feb; background: #eef4ff; }
#drop input { display: block; margin: 0.5rem auto; }
#preview { display: block; max-width: 100%; max-height: 16rem; margin: 1rem auto; image-rendering: pixelated; }
#preview[hidden] { display: none; }
ol { list-style: none; padding: 0; }
li { display: grid; grid-template-columns: 8rem 1fr 4rem; gap: 0.5rem; align-items: center; margin: 0.3rem 0; }
.bar { background: #eee; height: 1.1rem; border-radius: 3px; overflow: hidden; }
.bar > div { background: #1f6feb; height: 100%; }
.pct { text-align: right; font-variant-numeric: tabular-nums; }
#status.error { color: #b00020; }
</style>
</head>
<body>
<h1>${t.title}</h1>
<p>${t.intro}</p>
<label id="drop">${t.choose}
<input id="file" type="file" accept="image/png,image/jpeg">
<span>${t.drop}</span>
</label>
${tabSwitch}<img id="preview" alt="" hidden>
<p id="status" role="status" aria-live="polite"></p>
<h2 id="top-heading" hidden>${t.top}</h2>
<ol id="results" aria-labelledby="top-heading"></ol>
<script nonce="${nonce}">
"use strict";
const LANG = ${JSON.stringify(lang)};
const TEXT = ${
    JSON.stringify({
      working: t.working,
      failed: t.failed,
      tabLoading: t.tabLoading,
      tabRan: t.tabRan,
    })
  };
const tab = document.getElementById("in-tab");
const TTA = ${JSON.stringify(inTab?.tta ?? null)};
let local = null;
const drop = document.getElementById("drop");
const input = document.getElementById("file");
const preview = document.getElementById("preview");
const status = document.getElementById("status");
const results = document.getElementById("results");
const heading = document.getElementById("top-heading");
let shownUrl = null;

function show(predictions) {
  results.replaceChildren(...predictions.map((p) => {
    const li = document.createElement("li");
    li.className = "prediction";
    const name = document.createElement("span");
    name.className = "label";
    // Japanese names exist only for CIFAR-10; other labels show as saved.
    name.textContent = LANG === "ja" && p.labelJa ? p.labelJa : p.label;
    name.title = (LANG === "ja" ? p.label : p.labelJa) ?? p.label;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.style.width = (100 * p.probability).toFixed(1) + "%";
    bar.append(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = (100 * p.probability).toFixed(1) + "%";
    li.append(name, bar, pct);
    return li;
  }));
  heading.hidden = predictions.length === 0;
}

// The bundle and the model load once, on the first image classified here.
function tabClassifier() {
  if (!local) {
    status.textContent = TEXT.tabLoading;
    local = import("./simdnet.js").then((m) => m.fromUrl("model/model.json", { tta: TTA ?? undefined }));
    local.catch(() => { local = null; });
  }
  return local;
}

async function classifyHere(file) {
  const classifier = await tabClassifier();
  const bytes = new Uint8Array(await file.arrayBuffer());
  const predictions = await classifier.classify(bytes, {
    topK: Math.min(3, classifier.classes),
  });
  document.body.dataset.runtime = JSON.stringify(classifier.runtime);
  return predictions;
}

async function classifyOnServer(file) {
  const res = await fetch("classify", {
    method: "POST",
    headers: { "content-type": file.type || "application/octet-stream" },
    body: file,
  });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body.predictions;
}

async function classify(file) {
  if (shownUrl) URL.revokeObjectURL(shownUrl);
  shownUrl = URL.createObjectURL(file);
  preview.src = shownUrl;
  preview.alt = file.name;
  preview.hidden = false;
  show([]);
  status.className = "";
  status.textContent = TEXT.working;
  try {
    const here = tab !== null && tab.checked;
    const predictions = here ? await classifyHere(file) : await classifyOnServer(file);
    // The backend and threads, not the runtime's reason: its hints (e.g.
    // which Linux package gives a GPU adapter) are for servers, not readers.
    const runtime = here ? JSON.parse(document.body.dataset.runtime) : null;
    status.textContent = here
      ? TEXT.tabRan.replace("{backend}", runtime.backend)
        .replace("{threads}", String(runtime.threads))
      : "";
    show(predictions);
    document.body.dataset.predictions = JSON.stringify(predictions);
    document.body.dataset.state = "done";
  } catch (err) {
    status.className = "error";
    status.textContent = TEXT.failed + " " + err.message;
    document.body.dataset.state = "error";
  }
}

input.addEventListener("change", () => {
  if (input.files && input.files[0]) classify(input.files[0]);
});
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = e.dataTransfer && e.dataTransfer.files[0];
  if (file) classify(file);
});
</script>
</body>
</html>
`;
}
