/**
 * The one door to @hyperproto/model-contract. In the build, `scripts/bundle-contract.mjs` replaces this module with
 * one that re-exports a copy of the contract shipped in `dist/vendor/model-contract/`, so that a page without a
 * bundler needs an import map entry for onnxruntime-web only, as before the contract existed.
 */
export * from '@hyperproto/model-contract';
