/**
 * The seconds of each epoch for `train`'s history.json (training and
 * validation, checkpoint included, as Keras' progress line counts them).
 * They stay out of `fit`'s history and the checkpoint, so a resumed run's
 * history stays bit-identical to an uninterrupted one's; the epochs a
 * resumed run did not train itself get null.
 *
 * @module
 */

/** Times epochs through `fit`'s `onEpochEnd`. */
export class EpochSeconds {
  #start = performance.now();
  readonly #seconds = new Map<number, number>();

  /** Pass as (or call from) `fit`'s `onEpochEnd`. */
  readonly onEpochEnd = (epoch: number): void => {
    const now = performance.now();
    this.#seconds.set(epoch, (now - this.#start) / 1000);
    this.#start = now;
  };

  /** Seconds of epochs `0..epochs-1`, null where this process did not train it. */
  list(epochs: number): Array<number | null> {
    return Array.from({ length: epochs }, (_, e) => {
      const s = this.#seconds.get(e);
      return s === undefined ? null : Math.round(s * 1000) / 1000;
    });
  }
}
