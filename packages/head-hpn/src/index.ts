import { hpnHead } from './hpn-head.js';

export { hpnHead, hpnHeadOptionsSchema, hpnLoss, hpnScores, PROTOTYPES_CONSTANT, type HpnHeadOptions } from './hpn-head.js';
export default hpnHead;
