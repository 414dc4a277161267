import { marginHead } from './margin-head.js';

export { DEFAULT_MARGIN, marginHead, marginHeadOptionsSchema, type MarginHeadOptions } from './margin-head.js';
export default marginHead;
