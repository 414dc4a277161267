// What a decimal number is, and why `0x1F` is refused, is the model contract's: web pages read feature text by it too.
import { isDecimalNumber, otherBaseOf, otherBaseProblem } from '@hyperproto/model-contract';

export { isDecimalNumber };

const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;
// How spreadsheets, R, pandas and databases write a missing value: NA, N/A, #N/A, NaN, null, None.
const MISSING = /^(?:na|n\/a|#n\/a|[+-]?nan|null|none)$/i;
// A number written with a decimal comma (`1,5`), as many European locales do.
const DECIMAL_COMMA = /^[+-]?\d+,\d+$/;

/** What to do about a missing feature value, said the same whether training or predicting. */
export const MISSING_VALUE_FIX = 'every feature needs a value (fill in or drop rows with missing values)';

/** Whether a field is how a missing value is commonly written (see MISSING); an empty field is one too. */
export function isMissingValue(field: string): boolean {
  return field === '' || MISSING.test(field);
}

/** Whether a field is a number with a decimal comma, `-1,5`. */
export function hasDecimalComma(field: string): boolean {
  return DECIMAL_COMMA.test(field);
}

/** Whether a CSV field is meant as a number (even one we refuse): tells a header line from a data line. */
export function looksNumeric(field: string): boolean {
  return isDecimalNumber(field) || NON_FINITE.test(field) || otherBaseOf(field) !== undefined;
}

/**
 * The float32 value of a trimmed CSV field, or why it cannot be a feature (a phrase that completes
 * `"<field>" ...`). Numbers outside float32's range are refused rather than turned into Infinity.
 */
export function parseDecimalField(field: string): number | string {
  if (isDecimalNumber(field)) {
    const value = Math.fround(Number(field));
    return Number.isFinite(value) ? value : 'does not fit a float32 (largest magnitude about 3.4e38); rescale the column';
  }
  return fieldProblem(field);
}

function fieldProblem(field: string): string {
  if (field === '') return `is empty; ${MISSING_VALUE_FIX}`;
  if (MISSING.test(field)) return `marks a missing value; ${MISSING_VALUE_FIX}`;
  if (NON_FINITE.test(field)) return 'is not a finite number; replace or drop rows with infinite values';
  if (DECIMAL_COMMA.test(field)) return `has a decimal comma; write decimal points (${field.replace(',', '.')})`;
  return otherBaseProblem(field) ?? 'is not a decimal number; features must be plain decimal numbers such as -1.5 or 2e-3';
}
