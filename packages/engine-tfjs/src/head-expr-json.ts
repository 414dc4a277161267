import { ErrorCode, HEAD_OP_TABLE, HEAD_OPS, HyperprotoError, type HeadExpr, type HeadOp } from '@hyperproto/core';

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
  const result: Record<string, unknown> = { op };
  for (const key of fields.strings) {
    if (typeof node[key] !== 'string' || node[key] === '') fail(`"${op}" needs a string "${key}"`);
    result[key] = node[key];
  }
  for (const key of fields.numbers) {
    if (typeof node[key] !== 'number' || !Number.isFinite(node[key])) {
      fail(
        op === 'param'
          ? `head parameter ${JSON.stringify(result.name)} needs a finite initial value "value"`
          : `"${op}" needs a finite number "${key}"`,
      );
    }
    result[key] = node[key];
  }
  for (const key of fields.children) result[key] = parseHeadExpr(node[key], `${path}.${key}`);
  return result as unknown as HeadExpr;
}
