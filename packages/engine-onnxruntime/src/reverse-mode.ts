import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import type { TapeNode, TracedGraph, Value } from '@hyperproto/onnx-graph';
import { builtinGradientRules, fullShape, type GradientRules } from './gradient-rules.js';

const FLOAT_TYPES = new Set(['float32', 'float64']);

/**
 * The nodes on a path from one of `parameters` to `loss`, in tape order, each checked for a gradient rule. Throws
 * E_UNSUPPORTED naming the first operator without one, before anything is emitted: a head that cannot be trained
 * is refused when the graph is built, not halfway through training.
 */
export function differentiableNodes(
  tape: readonly TapeNode[],
  loss: Value,
  parameters: readonly Value[],
  rules: GradientRules,
): TapeNode[] {
  const varying = new Set(parameters.map((p) => p.name));
  for (const node of tape) {
    if (node.inputs.some((input) => varying.has(input.name))) for (const output of node.outputs) varying.add(output.name);
  }
  const needed = new Set([loss.name]);
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((output) => needed.has(output.name))) for (const input of node.inputs) needed.add(input.name);
  }
  const active = tape.filter((node) => node.outputs.some((output) => needed.has(output.name) && varying.has(output.name)));
  for (const node of active) {
    if (!rules.has(node.opType)) {
      throw new HyperprotoError(
        ErrorCode.Unsupported,
        `cannot train ${node.source ?? 'this model'}: its ONNX operator ${node.opType} has no gradient rule in engine:onnxruntime`,
        { hint: 'Train this head with --engine tfjs, or write the head with operations that have gradient rules.' },
      );
    }
  }
  return active;
}

/**
 * Reverse-mode differentiation over the traced graph: replays the tape backwards from `loss` (a scalar), asking
 * each node's gradient rule for the gradients of its inputs and adding up those of values used more than once.
 * Returns the gradient of each parameter, or undefined for one the loss does not depend on.
 */
export function emitGradients(
  g: TracedGraph,
  loss: Value,
  parameters: readonly Value[],
  rules: GradientRules = builtinGradientRules,
): (Value | undefined)[] {
  if (loss.shape.length !== 0) {
    throw new HyperprotoError(ErrorCode.InvalidInput, `the loss must be a scalar, but has shape [${loss.shape.join(', ')}]`, {
      hint: "End the head's loss with h.mean(...).",
    });
  }
  const active = differentiableNodes(g.tape, loss, parameters, rules);
  const varying = new Set([...parameters.map((p) => p.name), ...active.flatMap((node) => node.outputs.map((o) => o.name))]);
  const gradients = new Map<string, Value>([[loss.name, g.scalar(1)]]);
  const previousSource = g.source;
  for (let i = active.length - 1; i >= 0; i--) {
    const node = active[i]!;
    const outputGradients = node.outputs.map((output) => gradients.get(output.name));
    if (outputGradients.every((dy) => dy === undefined)) continue;
    const wanted = node.inputs.map((input) => varying.has(input.name) && FLOAT_TYPES.has(input.type));
    g.source = `the gradient of ${node.opType}`;
    const inputGradients = rules.get(node.opType)!(g, { node, outputGradients, wanted });
    node.inputs.forEach((input, k) => {
      const gradient = inputGradients[k];
      if (!wanted[k] || !gradient) return;
      const earlier = gradients.get(input.name);
      gradients.set(input.name, earlier ? g.add(earlier, gradient) : gradient);
    });
  }
  const full = parameters.map((p) => {
    const gradient = gradients.get(p.name);
    return gradient && fullShape(g, gradient, p);
  });
  g.source = previousSource;
  return full;
}
