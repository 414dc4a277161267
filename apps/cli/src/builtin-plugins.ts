// The CLI's plugins are the library's: one list, in @hyperproto/builtin-plugins.
export { builtinPlugins } from '@hyperproto/builtin-plugins';
