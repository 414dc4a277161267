import { ModelContractError, type ContractErrorCode } from './contract.js';

/** The codes of runtime-web's errors: @hyperproto/model-contract's, which are `@hyperproto/core`'s ErrorCode values. */
export type RuntimeWebErrorCode = ContractErrorCode;

/**
 * runtime-web's errors are the model contract's error class, named `HyperprotoError` with a stable `code` and an
 * optional `hint`, so that core's `isHyperprotoError` recognises them and callers treat errors from every
 * hyperproto package alike.
 */
export const RuntimeWebError = ModelContractError;
export type RuntimeWebError = ModelContractError;

export { errorMessage } from './contract.js';
