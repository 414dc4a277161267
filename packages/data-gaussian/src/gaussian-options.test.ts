import { ErrorCode, HyperprotoError, resolveOptions } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { gaussianDataset } from './gaussian-dataset.js';
import { defaultSigma, GaussianOptionsSchema, seedSigma } from './gaussian-options.js';

function resolveError(raw: unknown): HyperprotoError {
  try {
    resolveOptions(gaussianDataset, raw);
  } catch (error) {
    expect(error).toBeInstanceOf(HyperprotoError);
    return error as HyperprotoError;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
}

describe('defaultSigma', () => {
  it("follows the seed's Table 1", () => {
    expect(defaultSigma(10)).toBe(3);
    expect(defaultSigma(100)).toBe(2.5);
    expect(defaultSigma(1000)).toBe(1.25);
  });

  it('has no default for other class counts and says to pass sigma', () => {
    expect(seedSigma(37)).toBeUndefined();
    // Object.prototype keys must not pass for table rows.
    expect(seedSigma('constructor' as unknown as number)).toBeUndefined();
    expect(() => defaultSigma(37)).toThrowError(
      /no default for 37 classes.*pass sigma, e\.g\. --sigma 2 on the command line, or "sigma": 2 beside "classes": 37/,
    );
    try {
      defaultSigma(37);
    } catch (error) {
      expect((error as HyperprotoError).code).toBe(ErrorCode.InvalidOptions);
    }
  });
});

describe('gaussian options', () => {
  it('fills in the seed defaults', () => {
    expect(GaussianOptionsSchema.parse({ classes: 10 })).toEqual({
      classes: 10,
      inputWidth: 300,
      trainPerClass: 500,
      validationPerClass: 100,
      testPerClass: 200,
    });
  });

  it('accepts any class count when sigma is given', () => {
    expect(resolveOptions(gaussianDataset, { classes: 37, sigma: 2 })).toMatchObject({ classes: 37, sigma: 2 });
  });

  it('rejects a class count without a default sigma before any work, naming the option', () => {
    const error = resolveError({ classes: 37 });
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(/dataset:gaussian sigma: sigma has no default for 37 classes/);
  });

  it.each([
    [{}, /classes/],
    [{ classes: 1 }, /classes/],
    [{ classes: 2.5, sigma: 1 }, /classes/],
    [{ classes: 10, sigma: 0 }, /sigma/],
    [{ classes: 10, sigma: -1 }, /sigma/],
    [{ classes: 10, inputWidth: 0 }, /inputWidth/],
    [{ classes: 10, trainPerClass: 1.5 }, /trainPerClass/],
    [{ classes: 10, testPerClass: 0 }, /testPerClass/],
    [{ classes: 10, validationPerClass: '100' }, /validationPerClass/],
    [{ classes: 10, validationRows: 0 }, /validationRows/],
    [{ classes: 10, validationRows: 2.5 }, /validationRows/],
    [{ classes: 10, sigmaa: 3 }, /sigmaa/],
  ])('rejects %j with a message naming the option', (raw, pattern) => {
    const error = resolveError(raw);
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(pattern);
    expect(error.message).toMatch(/^dataset:gaussian/);
  });
});
