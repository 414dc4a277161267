/**
 * Where `value` stops being plain JSON that survives JSON.stringify then JSON.parse unchanged (NaN and Infinity
 * become null, undefined fields vanish, typed arrays turn into objects, class instances lose their class), or
 * undefined when it is plain JSON throughout.
 */
export function jsonProblem(value: unknown, path: string, seen: Set<object> = new Set()): string | undefined {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return undefined;
  if (typeof value === 'number')
    return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot hold (it becomes null)`;
  if (typeof value !== 'object')
    return `${path} is ${typeof value === 'undefined' ? 'undefined, which JSON drops' : `a ${typeof value}, which JSON cannot hold`}`;
  if (seen.has(value)) return `${path} refers back to an enclosing object, which JSON cannot hold`;
  const prototype = Object.getPrototypeOf(value);
  if (Array.isArray(value)) {
    seen.add(value);
    for (let i = 0; i < value.length; i++) {
      const problem = jsonProblem(value[i], `${path}[${i}]`, seen);
      if (problem) return problem;
    }
  } else if (prototype === Object.prototype || prototype === null) {
    seen.add(value);
    for (const [key, field] of Object.entries(value)) {
      const problem = jsonProblem(field, `${path}.${key}`, seen);
      if (problem) return problem;
    }
  } else {
    return `${path} is a ${(value as object).constructor?.name ?? 'non-plain object'}, not a plain object or array`;
  }
  seen.delete(value);
  return undefined;
}
