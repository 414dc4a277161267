import { softmaxHead } from './softmax-head.js';

export { softmaxHead, softmaxHeadOptionsSchema, softmaxLoss, softmaxScores, type SoftmaxHeadOptions } from './softmax-head.js';
export default softmaxHead;
