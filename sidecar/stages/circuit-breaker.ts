// A circuit breaker (one per deployment and one per host: stages/state.ts): opens after N
// consecutive failures or a failure rate over a sliding window, stays open for a cool-down
// (requests skip what it guards at no latency cost), then lets exactly one probe through
// (half-open); the probe's outcome closes or re-opens it.
import type { CircuitSettings } from '../config/runtime.ts';
import { SlidingWindow } from './window.ts';

export type CircuitState = 'closed' | 'open' | 'half_open';
export const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

export class CircuitBreaker {
  state: CircuitState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  private probing = false;
  private settings: CircuitSettings;
  private window: SlidingWindow<'ok' | 'fail'>;
  private readonly onChange: (state: CircuitState) => void;

  constructor(settings: CircuitSettings, onChange: (state: CircuitState) => void = () => undefined) {
    this.settings = settings;
    this.window = new SlidingWindow(['ok', 'fail'] as const, settings.windowMs);
    this.onChange = onChange;
  }

  /** A new config may change the thresholds; the state carries over. */
  configure(settings: CircuitSettings): void {
    if (settings.windowMs !== this.settings.windowMs) this.window = new SlidingWindow(['ok', 'fail'] as const, settings.windowMs);
    this.settings = settings;
  }

  private set(state: CircuitState, now: number): void {
    if (state === this.state) return;
    this.state = state;
    if (state === 'open') this.openedAt = now;
    if (state !== 'half_open') this.probing = false;
    this.onChange(state);
  }

  /** May a request go to this backend now? In half-open, only the single probe may. */
  allow(now = Date.now()): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (now - this.openedAt < this.settings.cooldownMs) return false;
      this.set('half_open', now);
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(now = Date.now()): void {
    this.consecutive = 0;
    this.window.add('ok', now);
    if (this.state === 'half_open') {
      this.window.reset();
      this.set('closed', now);
    }
  }

  failure(now = Date.now()): void {
    if (this.state === 'half_open') {
      this.set('open', now);
      return;
    }
    this.consecutive++;
    this.window.add('fail', now);
    if (this.state !== 'closed') return;
    const fails = this.window.sum('fail', now);
    const total = fails + this.window.sum('ok', now);
    const s = this.settings;
    if (this.consecutive >= s.consecutiveFailures || (total >= s.minimumRequests && (fails * 100) / total >= s.failureRatePercent)) this.set('open', now);
  }

  /** The attempt ended for a reason that says nothing about the backend (client error, cancel). */
  neutral(): void {
    if (this.state === 'half_open') this.probing = false;
  }
}
