import { AirouteError } from '../../sidecar/errors.ts';

/** The AirouteError `fn` throws; anything else it throws, or nothing thrown, fails the test. */
export function thrown(fn: () => unknown): AirouteError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AirouteError) return e;
    throw e;
  }
  throw new Error('expected an AirouteError');
}
