import type { Plugin } from '@hyperproto/core';
import gaussian from '@hyperproto/data-gaussian';
import random from '@hyperproto/prototypes-random';
import optimized from '@hyperproto/prototypes-optimized';
import tammes from '@hyperproto/prototypes-tammes';
import softmax from '@hyperproto/head-softmax';
import hpn from '@hyperproto/head-hpn';
import classification from '@hyperproto/eval-classification';
import tfjsEngine from '@hyperproto/engine-tfjs';

/** Plugins the CLI always has; third-party ones join through --plugin or a config file. */
export const builtinPlugins: readonly Plugin[] = [gaussian, random, optimized, tammes, softmax, hpn, classification, tfjsEngine];
