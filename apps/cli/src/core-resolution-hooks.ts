// Module resolution hooks (node:module register) for the threads that load plugins: a plugin's
// `import '@hyperproto/core'` resolves to the copy this CLI runs, as a peer dependency promises. A plugin file outside
// any project with core installed then loads too, and an application never holds two registries' worth of core.
interface ResolveContext {
  readonly parentURL?: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string }>;

let coreUrl: string | undefined;

export async function initialize(data: { coreUrl: string }): Promise<void> {
  coreUrl = data.coreUrl;
}

export async function resolve(
  specifier: string,
  context: ResolveContext,
  nextResolve: NextResolve,
): Promise<{ url: string; shortCircuit?: boolean }> {
  if (coreUrl !== undefined && specifier === '@hyperproto/core') return { url: coreUrl, shortCircuit: true };
  return nextResolve(specifier, context);
}
