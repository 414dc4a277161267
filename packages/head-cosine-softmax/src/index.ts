import { cosineSoftmaxHead } from './cosine-softmax-head.js';

export {
  cosineSoftmaxHead,
  cosineSoftmaxHeadOptionsSchema,
  crossEntropy,
  DEFAULT_SCALE,
  LOG_SCALE_PARAM,
  PROTOTYPES_CONSTANT,
  prototypeCosines,
  prototypeSoftmaxDefinition,
  sampledPrototypeCosines,
  scaleExpr,
  unitPrototypes,
  type CosineSoftmaxHeadOptions,
} from './cosine-softmax-head.js';
export default cosineSoftmaxHead;
