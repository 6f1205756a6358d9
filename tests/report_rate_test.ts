/**
 * The report's learning-rate panel: drawn beside the learning curves when
 * the history has a rate per epoch (each point at its epoch's value, in
 * English and Japanese), absent for an older history without rates, and a
 * non-array refused with one line.
 */

import assert from "node:assert/strict";
import { prepareReport } from "../src/report/prepare.ts";
import { syntheticReportData } from "./_report_fixture.ts";

Deno.test("report: a history with learning rates gets a third panel with one point per epoch", () => {
  const data = syntheticReportData(3);
  const epochs = data.history.loss.length;
  assert.ok(epochs >= 2, "the fixture needs a few epochs");
  const rates = Array.from({ length: epochs }, (_, i) => 0.1 / (i + 1));
  const withRates = {
    ...data,
    history: { ...data.history, learning_rate: rates },
  };
  const en = prepareReport(withRates, "en").curvesSvg;
  assert.match(en, />Learning rate</);
  assert.equal((en.match(/<g transform=/g) ?? []).length, 3);
  rates.forEach((r, i) => {
    assert.ok(
      en.includes(`<title>Learning rate, Epoch ${i + 1}: ${r}</title>`),
      `epoch ${i + 1}`,
    );
  });
  assert.match(prepareReport(withRates, "ja").curvesSvg, />学習率</);
  const without = prepareReport(data, "en").curvesSvg;
  assert.doesNotMatch(without, /Learning rate/);
  assert.equal((without.match(/<g transform=/g) ?? []).length, 2);
  const bad = {
    ...data,
    history: { ...data.history, learning_rate: 0.1 as unknown as number[] },
  };
  assert.throws(
    () => prepareReport(bad, "en"),
    /history.learning_rate is not an array/,
  );
});
