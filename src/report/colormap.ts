/**
 * The two matplotlib colour maps the seed notebook uses: `Blues` for the
 * confusion matrix and `viridis` (imshow's default) for feature maps.
 *
 * The tables are the 256 RGB bytes matplotlib itself draws images with
 * (`Colormap(x, bytes=True)`), exported from matplotlib 3.6. viridis is by
 * Stéfan van der Walt and Nathaniel Smith (CC0); Blues is ColorBrewer's
 * (Cynthia Brewer, Apache-2.0), linearly interpolated by matplotlib.
 *
 * @module
 */

/** A colour map: 256 RGB entries, packed as 768 bytes. */
export interface Colormap {
  readonly name: string;
  readonly lut: Uint8Array;
}

function unpack(name: string, rows: string[]): Colormap {
  const hex = rows.join("");
  const lut = new Uint8Array(hex.length / 2);
  for (let i = 0; i < lut.length; i++) {
    lut[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return { name, lut };
}

/** matplotlib's `viridis`, 256 entries. */
export const VIRIDIS: Colormap = unpack("viridis", [
  "44015444025544035745055845065a45085b46095c460b5e460c5f460e61470f62471163471265471466471567471669",
  "47186a48196b481a6c481c6e481d6f481e70482071482172482273482374472575472676472777472878472a79472b7a",
  "472c7b462d7c462f7c46307d46317e45327f45347f453580453681443781443982433a83433b83433c84423d84423e85",
  "4240854141864142864043874044873f45873f47883e48883e49893d4a893d4b893d4c893c4d8a3c4e8a3b508a3b518a",
  "3a528b3a538b39548b39558b38568b38578c37588c37598c365a8c365b8c355c8c355d8c345e8d345f8d33608d33618d",
  "32628d32638d31648d31658d31668d30678d30688d2f698d2f6a8d2e6b8e2e6c8e2e6d8e2d6e8e2d6f8e2c708e2c718e",
  "2c728e2b738e2b748e2a758e2a768e2a778e29788e29798e287a8e287a8e287b8e277c8e277d8e277e8e267f8e26808e",
  "26818e25828e25838d24848d24858d24868d23878d23888d23898d22898d228a8d228b8d218c8d218d8c218e8c208f8c",
  "20908c20918c1f928c1f938b1f948b1f958b1f968b1e978a1e988a1e998a1e998a1e9a891e9b891e9c891e9d881e9e88",
  "1e9f881ea0871fa1871fa2861fa38620a48520a58521a68521a78422a78423a88323a98224aa8225ab8126ac8127ad80",
  "28ae7f29af7f2ab07e2bb17d2cb17d2eb27c2fb37b30b47a32b57a33b67935b77836b87738b97639b9763bba753dbb74",
  "3ebc7340bd7242be7144be7045bf6f47c06e49c16d4bc26c4dc26b4fc36951c46853c56755c66657c66559c7645bc862",
  "5ec96160c96062ca5f64cb5d67cc5c69cc5b6bcd596dce5870ce5672cf5574d05477d05279d1517cd24f7ed24e81d34c",
  "83d34b86d44988d5478bd5468dd64490d64392d74195d73f97d83e9ad83c9dd93a9fd938a2da37a5da35a7db33aadb32",
  "addc30afdc2eb2dd2cb5dd2bb7dd29bade27bdde26bfdf24c2df22c5df21c7e01fcae01ecde01dcfe11cd2e11bd4e11a",
  "d7e219dae218dce218dfe318e1e318e4e318e7e419e9e419ece41aeee51bf1e51cf3e51ef6e61ff8e621fae622fde724",
]);

/** matplotlib's `Blues`, 256 entries. */
export const BLUES: Colormap = unpack("Blues", [
  "f7fbfff6fafef5f9fef4f9fef3f8fdf3f8fdf2f7fdf1f7fdf0f6fceff6fceff5fceef5fcedf4fbecf4fbecf3fbebf3fb",
  "eaf2fae9f2fae8f1fae8f1fae7f0f9e6f0f9e5eff9e4eff9e4eef8e3eef8e2edf8e1edf8e1ecf7e0ecf7dfebf7deebf7",
  "ddeaf6ddeaf6dce9f6dbe9f6dae8f5dae8f5d9e7f5d8e7f5d7e6f4d7e6f4d6e5f4d5e5f4d4e4f3d4e4f3d3e3f3d2e3f3",
  "d1e2f2d1e2f2d0e1f2cfe1f2cee0f1cee0f1cddff1ccdff1cbdef0cbdef0caddf0c9ddf0c8dcefc8dcefc7dbefc6dbef",
  "c5daeec4daeec3d9eec1d9edc0d8edbfd8ecbed7ecbcd7ebbbd6ebbad6eab9d5eab7d4eab6d4e9b5d3e9b4d3e8b2d2e8",
  "b1d2e7b0d1e7afd1e6add0e6acd0e6abcfe5aacfe5a8cee4a7cee4a6cde3a5cde3a3cce3a2cbe2a1cbe2a0cae19ecae1",
  "9dc9e09bc8e09ac7e098c7df97c6df95c5df93c4de92c3de90c2de8fc1dd8dc0dd8bc0dd8abfdc88bedc87bddc85bcdb",
  "83bbdb82badb80b9da7fb8da7db8d97bb7d97ab6d978b5d877b4d875b3d873b2d772b1d770b1d76fb0d66dafd66baed6",
  "6aadd569acd567abd466aad465aad363a9d362a8d261a7d260a6d15ea5d15da4d05ca3d05aa3cf59a2cf58a1ce57a0ce",
  "559fcd549ecd539dcc519ccc509bcb4f9bcb4e9aca4c99ca4b98c94a97c94896c84795c84694c74594c74393c64292c6",
  "4191c54090c53f8fc43e8ec43d8dc33c8cc33b8bc23a8ac13989c13888c03787c03585bf3484bf3383be3282be3181bd",
  "3080bd2f7fbc2e7ebc2d7dbb2c7cbb2b7bba2a7ab92979b92878b82777b82676b72575b72474b62373b62272b52171b5",
  "2070b41f6fb31e6eb21e6db21d6cb11c6bb01b6aaf1a69ae1a68ae1967ad1866ac1765ab1764ab1663aa1562a91461a8",
  "1360a7135fa7125ea6115da5105ca40f5ba30f5aa30e59a20d58a10c57a00c56a00b559f0a549e09539d08529c08519c",
  "08509a084f99084e97084c96084b94084a9208499108488f08478e08468c08458b084489084388084286084185084083",
  "083f82083e80083d7e083c7d083b7b083a7a08397808387708377508367408357208347108336f08326e08316c08306b",
]);

/**
 * The table entry matplotlib picks for `t` in `[0, 1]`: `floor(t * 256)`,
 * with 1 mapped to the last entry and values outside clipped (NaN gives 0).
 */
export function colormapIndex(t: number): number {
  if (!(t > 0)) return 0;
  return Math.min(255, Math.floor(t * 256));
}

/** The `[r, g, b]` bytes of `cmap` at `t` in `[0, 1]`. */
export function colorAt(cmap: Colormap, t: number): [number, number, number] {
  const i = colormapIndex(t) * 3;
  return [
    cmap.lut[i] as number,
    cmap.lut[i + 1] as number,
    cmap.lut[i + 2] as number,
  ];
}

/** The CSS hex colour (`#rrggbb`) of `cmap` at `t` in `[0, 1]`. */
export function cssColorAt(cmap: Colormap, t: number): string {
  return "#" +
    colorAt(cmap, t).map((v) => v.toString(16).padStart(2, "0")).join("");
}
