// Grids over the fake registry's plugins, as a user would write them (not yet parsed).

export interface FakeGridShape {
  /** One `blobs` dataset per class count, with id `c<classes>`. Default [4, 8]. */
  readonly classes?: readonly number[];
  /** One hpn model over `axes` prototypes per dims, with id `axes-<dims>`, after `softmax`. Default [4]. */
  readonly axesDims?: readonly number[];
}

export function fakeGrid(name: string, seeds: number, { classes = [4, 8], axesDims = [4] }: FakeGridShape = {}) {
  return {
    name,
    seeds,
    datasets: classes.map((count) => ({ id: `c${count}`, name: 'blobs', options: { classes: count } })),
    models: [
      { id: 'softmax', head: 'softmax' },
      ...axesDims.map((dims) => ({ id: `axes-${dims}`, head: 'hpn', prototypes: { strategy: 'axes', dims } })),
    ],
  };
}
