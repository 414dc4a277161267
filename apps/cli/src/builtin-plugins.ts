import type { Plugin } from '@hyperproto/core';
import gaussian from '@hyperproto/data-gaussian';
import random from '@hyperproto/prototypes-random';
import optimized from '@hyperproto/prototypes-optimized';
import tammes from '@hyperproto/prototypes-tammes';
import spread from '@hyperproto/prototypes-spread';
import orthogonal from '@hyperproto/prototypes-orthogonal';
import simplex from '@hyperproto/prototypes-simplex';
import orthoplex from '@hyperproto/prototypes-orthoplex';
import codes from '@hyperproto/prototypes-codes';
import softmax from '@hyperproto/head-softmax';
import hpn from '@hyperproto/head-hpn';
import classification from '@hyperproto/eval-classification';
import tfjsEngine from '@hyperproto/engine-tfjs';
import onnxruntimeEngine from '@hyperproto/engine-onnxruntime';

/** Plugins the CLI always has; third-party ones join through --plugin or a config file. */
export const builtinPlugins: readonly Plugin[] = [gaussian, random, optimized, tammes, spread, orthogonal, simplex, orthoplex, codes, softmax, hpn, classification, tfjsEngine, onnxruntimeEngine];
