/**
 * What `train` writes after the run: `history.json` and the report with the
 * run's settings table.
 *
 * @module
 */

import { buildReportData } from "../report/build_report_data.ts";
import { writeReport } from "../report/write_report.ts";
import { describeTta, type TtaOptions } from "../train/tta.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import type { Lang } from "../data/classes.ts";
import type { FineTuneOptions } from "../train/phases.ts";

/** Writes `history.json` (Keras' keys, plus seconds and peak memory). */
export async function saveHistory(
  out: string,
  history: object,
): Promise<void> {
  await writeFileAtomic(
    `${out}/history.json`,
    new TextEncoder().encode(JSON.stringify(history, null, 2) + "\n"),
  );
}

type ReportInput = Parameters<typeof buildReportData>[0];

/** What `reportRun` needs of a finished run. */
export interface FinishedRun extends
  Pick<
    ReportInput,
    "model" | "history" | "train" | "evaluated" | "classNames"
  > {
  /** "test" or "validation": what `evaluated` is. */
  what: string;
  result: ReportInput["evaluation"];
  backend: string;
  threads: number;
  seconds: number;
  /** The recipe's or the optimizer's settings lines. */
  recipe: Record<string, string | number | boolean>;
}

/** The command-line settings the report shows (a `TrainArgs` has them). */
export interface ReportArgs {
  epochs: number;
  batchSize: number;
  lr: number;
  augment: boolean;
  seed: number;
  out: string;
  lang: Lang;
  tta: Required<TtaOptions> | undefined;
  transfer: { fineTune: FineTuneOptions | undefined };
}

/** Writes report.html and its figures for a finished run. */
export async function reportRun(a: ReportArgs, r: FinishedRun): Promise<void> {
  const fineTune = a.transfer.fineTune;
  const settings = {
    epochs: a.epochs,
    "batch size": a.batchSize,
    "learning rate": a.lr,
    augmentation: a.augment,
    seed: a.seed,
    backend: r.backend,
    threads: r.threads,
    "training images": r.train.count,
    [`${r.what} images`]: r.evaluated.count,
    "training time (s)": Math.round(r.seconds),
    "test-time augmentation": describeTta(a.tta),
    ...r.recipe,
    ...(fineTune
      ? {
        "fine-tune epochs": fineTune.epochs,
        "fine-tune learning rate": fineTune.learningRate,
      }
      : {}),
  };
  const report = await buildReportData({
    model: r.model,
    history: r.history,
    train: r.train,
    evaluated: r.evaluated,
    evaluation: r.result,
    evaluatedOn: r.what === "test" ? "test" : "validation",
    settings,
    batchSize: a.batchSize,
    seed: a.seed,
    classNames: r.classNames,
    tta: a.tta,
  });
  await writeReport(a.out, report, a.lang);
}
