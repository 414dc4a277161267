export { default } from '../vitest.preset.mjs';
