export { default } from '../../tooling/vitest.preset.mjs';
