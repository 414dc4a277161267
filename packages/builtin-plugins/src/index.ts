import { createRegistry, type Plugin, type Registry } from '@hyperproto/core';
import files from '@hyperproto/data-files';
import gaussian from '@hyperproto/data-gaussian';
import onnxruntimeEngine from '@hyperproto/engine-onnxruntime';
import tfjsEngine from '@hyperproto/engine-tfjs';
import classification from '@hyperproto/eval-classification';
import bottleneckSoftmax from '@hyperproto/head-bottleneck-softmax';
import cosineSoftmax from '@hyperproto/head-cosine-softmax';
import hpn from '@hyperproto/head-hpn';
import margin from '@hyperproto/head-margin';
import softmax from '@hyperproto/head-softmax';
import codes from '@hyperproto/prototypes-codes';
import optimized from '@hyperproto/prototypes-optimized';
import orthogonal from '@hyperproto/prototypes-orthogonal';
import orthoplex from '@hyperproto/prototypes-orthoplex';
import random from '@hyperproto/prototypes-random';
import simplex from '@hyperproto/prototypes-simplex';
import spread from '@hyperproto/prototypes-spread';
import tammes from '@hyperproto/prototypes-tammes';

/** Every plugin hyperproto ships: what the `hyperproto` command always has. */
export const builtinPlugins: readonly Plugin[] = [
  gaussian,
  files,
  random,
  optimized,
  tammes,
  spread,
  orthogonal,
  simplex,
  orthoplex,
  codes,
  softmax,
  hpn,
  cosineSoftmax,
  margin,
  bottleneckSoftmax,
  classification,
  tfjsEngine,
  onnxruntimeEngine,
];

/** A registry holding the built-in plugins and any others given (third-party ones, your own). */
export function createBuiltinRegistry(...more: readonly (Plugin | readonly Plugin[])[]): Registry {
  return createRegistry(builtinPlugins, ...more);
}
