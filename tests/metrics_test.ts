import assert from "node:assert/strict";
import {
  accuracy,
  classificationReport,
  classificationReportToDict,
  classificationReportToJson,
  confusionMatrix,
  diagnose,
  formatClassificationReport,
} from "../src/metrics/mod.ts";
import { formatFixed, rjust } from "../src/util/python_format.ts";
import { numpyMean, numpySum } from "../src/util/numpy_sum.ts";

/** Expands a confusion matrix back into label arrays. */
function labelsFrom(matrix: number[][]): { yTrue: number[]; yPred: number[] } {
  const yTrue: number[] = [];
  const yPred: number[] = [];
  matrix.forEach((row, i) =>
    row.forEach((count, j) => {
      for (let k = 0; k < count; k++) {
        yTrue.push(i);
        yPred.push(j);
      }
    })
  );
  return { yTrue, yPred };
}

// Hand-made case: supports 12, 100, 8, 3; class 3 is never predicted, and
// class 2's recall is exactly 1/8 = 0.125, which Python rounds to "0.12".
const MATRIX = [
  [9, 3, 0, 0],
  [10, 90, 0, 0],
  [2, 5, 1, 0],
  [1, 1, 1, 0],
];
const { yTrue, yPred } = labelsFrom(MATRIX);
const NAMES = ["airplane", "automobile", "bird", "cat"];

Deno.test("confusionMatrix counts rows as true and columns as predicted", () => {
  assert.deepEqual(
    confusionMatrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3),
    [[1, 1, 0], [0, 1, 0], [1, 0, 2]],
  );
  // A class absent from both arrays still gets its row and column.
  assert.deepEqual(confusionMatrix(Uint8Array.of(1, 0), [1, 1], 3), [
    [0, 1, 0],
    [0, 1, 0],
    [0, 0, 0],
  ]);
  assert.deepEqual(confusionMatrix(yTrue, yPred, 4), MATRIX);
  assert.deepEqual(confusionMatrix([], [], 2), [[0, 0], [0, 0]]);
});

Deno.test("confusionMatrix rejects bad labels with a clear message", () => {
  assert.throws(
    () => confusionMatrix([0, 1], [0], 2),
    /yTrue has 2 labels but yPred has 1/,
  );
  assert.throws(
    () => confusionMatrix([0, 10], [0, 1], 10),
    /yTrue\[1\] is 10, but labels must be class indices in 0\.\.9/,
  );
  assert.throws(
    () => confusionMatrix([0, 1], [0, 0.5], 2),
    /yPred\[1\] is 0\.5/,
  );
  assert.throws(() => confusionMatrix([0], [0], 0), /numClasses is 0/);
});

Deno.test("accuracy is the fraction of matching labels", () => {
  assert.equal(accuracy([0, 1, 2, 2], [0, 1, 1, 2]), 0.75);
  assert.equal(accuracy(yTrue, yPred, 4), 100 / 123);
  assert.throws(() => accuracy([], []), /empty/);
  assert.throws(() => accuracy([0], [0, 1]), /1 labels but yPred has 2/);
  assert.throws(() => accuracy([0], [4], 4), /yPred\[0\] is 4/);
});

Deno.test("classificationReport matches scores computed by hand", () => {
  const r = classificationReport(yTrue, yPred, NAMES);
  const [a, b, c, d] = r.classes;
  assert.deepEqual(a, {
    name: "airplane",
    precision: 9 / 22,
    recall: 9 / 12,
    f1Score: 18 / 34,
    support: 12,
  });
  assert.deepEqual(b, {
    name: "automobile",
    precision: 90 / 99,
    recall: 90 / 100,
    f1Score: 180 / 199,
    support: 100,
  });
  assert.deepEqual(c, {
    name: "bird",
    precision: 1 / 2,
    recall: 1 / 8,
    f1Score: 2 / 10,
    support: 8,
  });
  // Never predicted: precision 0 (scikit-learn's zero_division default).
  assert.deepEqual(d, {
    name: "cat",
    precision: 0,
    recall: 0,
    f1Score: 0,
    support: 3,
  });
  assert.equal(r.accuracy, 100 / 123);
  const close = (x: number, y: number) =>
    assert.ok(Math.abs(x - y) < 1e-12, `${x} vs ${y}`);
  close(r.macroAvg.precision, (9 / 22 + 90 / 99 + 0.5) / 4);
  close(r.macroAvg.recall, (0.75 + 0.9 + 0.125) / 4);
  close(r.macroAvg.f1Score, (18 / 34 + 180 / 199 + 0.2) / 4);
  close(r.weightedAvg.precision, (12 * 9 / 22 + 100 * 90 / 99 + 8 * 0.5) / 123);
  close(r.weightedAvg.recall, 100 / 123);
  close(
    r.weightedAvg.f1Score,
    (12 * 18 / 34 + 100 * 180 / 199 + 8 * 0.2) / 123,
  );
  assert.equal(r.macroAvg.support, 123);
  assert.equal(r.weightedAvg.support, 123);
});

Deno.test("formatClassificationReport reproduces scikit-learn's text", () => {
  const expected = [
    "              precision    recall  f1-score   support",
    "",
    "    airplane       0.41      0.75      0.53        12",
    "  automobile       0.91      0.90      0.90       100",
    "        bird       0.50      0.12      0.20         8",
    "         cat       0.00      0.00      0.00         3",
    "",
    "    accuracy                           0.81       123",
    "   macro avg       0.45      0.44      0.41       123",
    "weighted avg       0.81      0.81      0.80       123",
    "",
  ].join("\n");
  const report = classificationReport(yTrue, yPred, NAMES);
  assert.equal(formatClassificationReport(report), expected);
  const threeDigits = [
    "              precision    recall  f1-score   support",
    "",
    "    airplane      0.409     0.750     0.529        12",
    "  automobile      0.909     0.900     0.905       100",
    "        bird      0.500     0.125     0.200         8",
    "         cat      0.000     0.000     0.000         3",
    "",
    "    accuracy                          0.813       123",
    "   macro avg      0.455     0.444     0.408       123",
    "weighted avg      0.812     0.813     0.800       123",
    "",
  ].join("\n");
  assert.equal(formatClassificationReport(report, 3), threeDigits);
  assert.throws(() => formatClassificationReport(report, -1), /digits is -1/);
});

Deno.test("formatClassificationReport pads CJK names by code points, as Python does", () => {
  const names = ["飛行機", "自動車", "鳥", "とても長いクラス名の例です"];
  const expected = [
    "               precision    recall  f1-score   support",
    "",
    "          飛行機       0.41      0.75      0.53        12",
    "          自動車       0.91      0.90      0.90       100",
    "            鳥       0.50      0.12      0.20         8",
    "とても長いクラス名の例です       0.00      0.00      0.00         3",
    "",
    "     accuracy                           0.81       123",
    "    macro avg       0.45      0.44      0.41       123",
    " weighted avg       0.81      0.81      0.80       123",
    "",
  ].join("\n");
  assert.equal(
    formatClassificationReport(classificationReport(yTrue, yPred, names)),
    expected,
  );
});

Deno.test("formatClassificationReport prints float supports when nothing is right", () => {
  // scikit-learn's supports turn float when there is no true positive at all.
  const text = formatClassificationReport(
    classificationReport([0, 1], [1, 0], ["a", "b"]),
  );
  assert.equal(
    text.split("\n")[2],
    "           a       0.00      0.00      0.00       1.0",
  );
  assert.match(text, /accuracy {27}0\.00 {7}2\.0\n/);
});

Deno.test("classificationReport JSON uses scikit-learn's output_dict keys", () => {
  const report = classificationReport(yTrue, yPred, NAMES);
  const dict = JSON.parse(classificationReportToJson(report));
  assert.deepEqual(Object.keys(dict), [
    ...NAMES,
    "accuracy",
    "macro avg",
    "weighted avg",
  ]);
  assert.deepEqual(dict.bird, {
    precision: 0.5,
    recall: 0.125,
    "f1-score": 0.2,
    support: 8,
  });
  assert.equal(dict.accuracy, 100 / 123);
  assert.equal(dict["macro avg"].support, 123);
  assert.throws(
    () =>
      classificationReportToDict(
        classificationReport([0, 1], [0, 1], ["accuracy", "b"]),
      ),
    /clashes with a summary row/,
  );
});

Deno.test("classificationReport rejects bad class names and empty input", () => {
  assert.throws(
    () => classificationReport([0], [0], []),
    /classNames is empty/,
  );
  assert.throws(() => classificationReport([0], [0], ["a", "a"]), /"a" twice/);
  assert.throws(() => classificationReport([], [], ["a"]), /empty/);
  assert.throws(
    () => classificationReport([0, 2], [0, 1], ["a", "b"]),
    /yTrue\[1\] is 2/,
  );
});

Deno.test("formatFixed rounds the exact binary value half to even, like Python", () => {
  assert.equal(formatFixed(0.125, 2), "0.12"); // an exact tie: toFixed gives 0.13
  assert.equal(formatFixed(0.375, 2), "0.38");
  assert.equal(formatFixed(0.625, 2), "0.62");
  assert.equal(formatFixed(2.5, 0), "2");
  assert.equal(formatFixed(3.5, 0), "4");
  assert.equal(formatFixed(0.005, 2), "0.01"); // 0.005 is stored slightly above
  assert.equal(formatFixed(0.825, 2), "0.82"); // …and 0.825 slightly below
  assert.equal(formatFixed(1234.5678, 3), "1234.568");
  assert.equal(formatFixed(1e-7, 2), "0.00");
  assert.equal(formatFixed(-0, 2), "-0.00");
  assert.equal(formatFixed(-1.5, 1), "-1.5");
  assert.equal(formatFixed(1e21, 1), "1000000000000000000000.0");
  assert.equal(formatFixed(Number.NaN, 2), "nan");
  assert.equal(rjust("猫", 4), "   猫");
});

Deno.test("numpySum adds in NumPy's pairwise order", () => {
  const small = [0.1, 0.2, 0.3];
  assert.equal(numpySum(small), (0 + 0.1 + 0.2) + 0.3);
  // np.sum of this array is 20.0, while adding left to right gives 21.75.
  const a = [
    1e16,
    1,
    -1e16,
    1,
    3,
    1e-3,
    7,
    1e16,
    -1e16,
    0.5,
    2,
    1e15,
    -1e15,
    0.25,
    1,
    1,
    5,
  ];
  assert.equal(a.reduce((x, y) => x + y, 0), 21.75);
  assert.equal(numpySum(a), 20);
  assert.equal(numpyMean([1, 2, 3, 4]), 2.5);
  // Sums of small integers are exact in any order, over every block size.
  const ints = Array.from({ length: 1000 }, (_, i) => i % 7);
  assert.equal(numpySum(ints), ints.reduce((x, y) => x + y, 0));
});

Deno.test("diagnose mirrors the seed's thresholds and sentences", () => {
  const over = diagnose({ accuracy: [0.5, 0.95], val_accuracy: [0.5, 0.8] });
  assert.equal(over.code, "overfitting");
  assert.equal(
    over.message.ja,
    "モデルが過学習の可能性あり - 訓練精度が検証精度より著しく高い",
  );
  assert.match(over.message.en, /overfitting/);
  assert.equal(over.trainAccuracy, 0.95);
  assert.equal(over.valAccuracy, 0.8);

  // A low training accuracy with a large gap is still overfitting: gap is checked first.
  assert.equal(
    diagnose({ accuracy: [0.6], val_accuracy: [0.45] }).code,
    "overfitting",
  );

  const under = diagnose({ accuracy: [0.6], val_accuracy: [0.55] });
  assert.equal(under.code, "underfitting");
  assert.equal(
    under.message.ja,
    "モデルが過少学習の可能性あり - 訓練精度と検証精度が共に低い",
  );

  const good = diagnose({ accuracy: [0.7], val_accuracy: [0.65] });
  assert.equal(good.code, "good"); // 0.7 is not below 0.7
  assert.equal(good.message.ja, "モデルは適切に学習できているようです");
  // 0.85 - 0.75 is 0.09999999999999998 in float64, as in the seed's Python.
  assert.equal(
    diagnose({ accuracy: [0.85], val_accuracy: [0.75] }).code,
    "good",
  );
  assert.equal(
    diagnose({ accuracy: [0.86], val_accuracy: [0.75] }).code,
    "overfitting",
  );

  assert.throws(
    () => diagnose({ accuracy: [], val_accuracy: [0.5] }),
    /history\.accuracy is empty/,
  );
  assert.throws(
    () => diagnose({ accuracy: [0.5], val_accuracy: [Number.NaN] }),
    /history\.val_accuracy ends with NaN/,
  );
});
