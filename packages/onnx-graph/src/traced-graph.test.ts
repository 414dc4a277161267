import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './graph-builder.js';
import { broadcastShapes, TracedGraph } from './traced-graph.js';

describe('broadcastShapes', () => {
  it('aligns shapes at their last axes, repeating sizes of 1 and missing axes, as NumPy does', () => {
    expect(broadcastShapes(['N', 4], [4])).toEqual(['N', 4]);
    expect(broadcastShapes([1, 4], [3, 1])).toEqual([3, 4]);
    expect(broadcastShapes([], [3, 1])).toEqual([3, 1]);
  });

  it('lets a dynamic size take a fixed one, and refuses two fixed sizes that differ', () => {
    expect(broadcastShapes(['N'], [5])).toEqual([5]);
    expect(broadcastShapes(['N', 1], ['M', 3])).toEqual(['M', 3]);
    expect(broadcastShapes([2, 3], [2])).toBeUndefined();
    expect(broadcastShapes([2, 3], [3, 2])).toBeUndefined();
  });
});

describe('TracedGraph', () => {
  it('refuses a binary node whose operands do not broadcast', () => {
    const g = new TracedGraph(new GraphBuilder());
    const a = g.input('a', 'float32', [2, 3]);
    const b = g.input('b', 'float32', [2]);
    expect(() => g.add(a, b)).toThrow(/Add of a \[2, 3\] and b \[2\]: the shapes do not broadcast/);
  });

  it('names a result by renaming the node that made it, or with an Identity when the value is read or not a node', () => {
    const g = new TracedGraph(new GraphBuilder());
    const x = g.input('x', 'float32', ['N', 3]);
    const y = g.neg(x);
    expect(g.nameResult(y, 'y')).toEqual({ name: 'y', type: 'float32', shape: ['N', 3] });
    expect(g.tape.map((node) => [node.opType, node.outputs[0]!.name])).toEqual([['Neg', 'y']]);
    const z = g.exp(x);
    g.relu(z);
    g.nameResult(z, 'z');
    g.nameResult(x, 'x_copy');
    expect(g.tape.slice(1).map((node) => [node.opType, node.outputs[0]!.name])).toEqual([
      ['Exp', z.name],
      ['Relu', expect.any(String)],
      ['Identity', 'z'],
      ['Identity', 'x_copy'],
    ]);
  });
});
