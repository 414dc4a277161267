import { bottleneckSoftmaxHead } from './bottleneck-softmax-head.js';

export {
  BIAS_PARAM,
  bottleneckLogits,
  bottleneckSoftmaxHead,
  bottleneckSoftmaxHeadOptionsSchema,
  CLASSIFIER_PARAM,
  DEFAULT_DIMS,
  type BottleneckSoftmaxHeadOptions,
} from './bottleneck-softmax-head.js';
export default bottleneckSoftmaxHead;
