/**
 * Report wording in English and in the seed notebook's Japanese.
 *
 * @module
 */

import type { Lang } from "./types.ts";
import { CIFAR10_CLASSES_EN, CIFAR10_CLASSES_JA } from "../data/classes.ts";

/** CIFAR-10 class names by index, in English and as the seed names them in Japanese. */
export const CIFAR10_CLASS_NAMES: Readonly<Record<Lang, readonly string[]>> = {
  en: CIFAR10_CLASSES_EN,
  ja: CIFAR10_CLASSES_JA,
};

/** Every piece of fixed report text. */
export interface Strings {
  lang: Lang;
  settings: string;
  setting: string;
  value: string;
  summary: string;
  layer: string;
  outputShape: string;
  params: string;
  totalParams: string;
  evaluation: string;
  testAccuracy: string;
  testLoss: string;
  notEvaluated: string;
  classificationReport: string;
  scikitText: string;
  precision: string;
  recall: string;
  f1: string;
  support: string;
  confusionMatrix: string;
  trueLabel: string;
  predictedLabel: string;
  learningCurves: string;
  /** Title and axis of the learning-rate panel. */
  learningRate: string;
  modelAccuracy: string;
  modelLoss: string;
  trainAccuracy: string;
  valAccuracy: string;
  trainLoss: string;
  valLoss: string;
  epoch: string;
  accuracy: string;
  loss: string;
  diagnosis: string;
  noHistory: string;
  trainSamples: string;
  predictions: string;
  /** Two-line title of a prediction, as the seed's `予測: …\n正解: …`. */
  predictedLine: (name: string) => string;
  trueLine: (name: string) => string;
  correct: string;
  wrong: string;
  featureMaps: string;
  originalImage: (className: string) => string;
  layerMaps: (index: number) => string;
  channelsShown: (shown: number, total: number, name: string) => string;
  notAvailable: string;
  pictures: string;
}

const EN: Strings = {
  lang: "en",
  settings: "Run settings",
  setting: "Setting",
  value: "Value",
  summary: "Model summary",
  layer: "Layer (type)",
  outputShape: "Output shape",
  params: "Param #",
  totalParams: "Total params",
  evaluation: "Evaluation",
  testAccuracy: "Test accuracy",
  testLoss: "Test loss",
  notEvaluated: "The model was not evaluated on the test set.",
  classificationReport: "Classification report",
  scikitText: "Text (scikit-learn layout)",
  precision: "precision",
  recall: "recall",
  f1: "f1-score",
  support: "support",
  confusionMatrix: "Confusion matrix",
  trueLabel: "True label",
  predictedLabel: "Predicted label",
  learningCurves: "Learning curves",
  learningRate: "Learning rate",
  modelAccuracy: "Model accuracy",
  modelLoss: "Model loss",
  trainAccuracy: "Training accuracy",
  valAccuracy: "Validation accuracy",
  trainLoss: "Training loss",
  valLoss: "Validation loss",
  epoch: "Epoch",
  accuracy: "Accuracy",
  loss: "Loss",
  diagnosis: "Diagnosis",
  noHistory: "No training history with validation accuracy to judge.",
  trainSamples: "Training images",
  predictions: "Predictions on test images",
  predictedLine: (name) => `Predicted: ${name}`,
  trueLine: (name) => `True: ${name}`,
  correct: "correct",
  wrong: "wrong",
  featureMaps: "Feature maps",
  originalImage: (name) => `Original image - class: ${name}`,
  layerMaps: (i) => `Feature maps of conv layer ${i}`,
  channelsShown: (shown, total, name) =>
    `first ${shown} of ${total} channels of ${name}`,
  notAvailable: "Not available for this run.",
  pictures: "Pictures",
};

// Chart titles and labels are the seed notebook's own words.
const JA: Strings = {
  lang: "ja",
  settings: "実行設定",
  setting: "設定",
  value: "値",
  summary: "モデルの要約",
  layer: "レイヤー (型)",
  outputShape: "出力形状",
  params: "パラメータ数",
  totalParams: "パラメータ総数",
  evaluation: "モデルの評価",
  testAccuracy: "テスト精度",
  testLoss: "テスト損失",
  notEvaluated: "テストデータでの評価は行われていません。",
  classificationReport: "分類レポート",
  scikitText: "テキスト (scikit-learn 形式)",
  precision: "適合率",
  recall: "再現率",
  f1: "F1スコア",
  support: "サンプル数",
  confusionMatrix: "混同行列",
  trueLabel: "正解ラベル",
  predictedLabel: "予測ラベル",
  learningCurves: "モデルのパフォーマンス可視化",
  learningRate: "学習率",
  modelAccuracy: "モデルの精度",
  modelLoss: "モデルの損失",
  trainAccuracy: "訓練精度",
  valAccuracy: "検証精度",
  trainLoss: "訓練損失",
  valLoss: "検証損失",
  epoch: "エポック",
  accuracy: "精度",
  loss: "損失",
  diagnosis: "学習状態の診断",
  noHistory: "判定に使える検証精度付きの学習履歴がありません。",
  trainSamples: "訓練データのサンプル画像",
  predictions: "モデルでの予測",
  predictedLine: (name) => `予測: ${name}`,
  trueLine: (name) => `正解: ${name}`,
  correct: "正解",
  wrong: "不正解",
  featureMaps: "CNN活性化の可視化",
  originalImage: (name) => `元の画像 - クラス: ${name}`,
  // The seed's f"{layer_name}の特徴マップ" with layer_name = f"畳み込み層 {i+1}".
  layerMaps: (i) => `畳み込み層 ${i}の特徴マップ`,
  channelsShown: (shown, total, name) =>
    `${name} の全 ${total} チャネルのうち最初の ${shown} チャネル`,
  notAvailable: "この実行では利用できません。",
  pictures: "図",
};

/** The report wording for `lang`. */
export function strings(lang: Lang): Strings {
  if (lang === "en") return EN;
  if (lang === "ja") return JA;
  throw new RangeError(
    `language is ${JSON.stringify(lang)}: pass "en" or "ja"`,
  );
}
