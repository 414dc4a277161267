import { ErrorCode, HEAD_OP_TABLE, HEAD_OPS, headParamSpec, HyperprotoError, type HeadExpr, type HeadOp } from '@hyperproto/core';

/** Checks that parsed JSON is a head expression; errors name the dotted path of the bad node. */
export function parseHeadExpr(value: unknown, path: string): HeadExpr {
  const fail = (why: string): never => {
    throw new HyperprotoError(ErrorCode.InvalidInput, `${path}: ${why}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('expected a head expression object');
  const node = value as Record<string, unknown>;
  const op = node.op;
  if (typeof op !== 'string' || !(HEAD_OPS as readonly string[]).includes(op)) {
    return fail(`unknown head operation ${JSON.stringify(op)} (known: ${HEAD_OPS.join(', ')})`);
  }
  const fields = HEAD_OP_TABLE[op as HeadOp];
  const optional = new Set<string>(fields.optional);
  const result: Record<string, unknown> = { op };
  const present = (key: string) => !(optional.has(key) && node[key] === undefined);
  for (const key of fields.strings) {
    if (!present(key)) continue;
    if (typeof node[key] !== 'string' || node[key] === '') fail(`"${op}" needs a string "${key}"`);
    result[key] = node[key];
  }
  for (const key of fields.numbers) {
    if (!present(key)) continue;
    if (typeof node[key] !== 'number' || !Number.isFinite(node[key])) fail(`"${op}" needs a finite number "${key}"`);
    result[key] = node[key];
  }
  for (const key of fields.lists) {
    if (!present(key)) continue;
    const list = node[key];
    if (!Array.isArray(list) || !list.every((n) => Number.isSafeInteger(n) && n >= 0)) fail(`"${op}" needs a list of integers "${key}"`);
    result[key] = [...(list as number[])];
  }
  for (const key of fields.children) result[key] = parseHeadExpr(node[key], `${path}.${key}`);
  if (op === 'param') {
    // A parameter's start (a value or an init, a shape that fits it) is checked where every head's is.
    try {
      headParamSpec(result);
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
    }
  }
  return result as unknown as HeadExpr;
}
