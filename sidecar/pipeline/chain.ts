// A stage chain whose order the compiler checks (after linkerd2-proxy's stack builders). A stage
// takes the handler below it and returns a handler for what it receives; a stage may change the
// exchange type on the way down (`fallback`: RouteExchange -> TargetExchange), and `.then()` only
// accepts a stage whose input is what the chain carries at that point.
import type { Answer } from './exchange.ts';

export type Handler<X> = (x: X) => Promise<Answer>;
export type Stage<In, Out = In> = (next: Handler<Out>) => Handler<In>;

type AnyStage = Stage<never, never>;

export class Chain<In, Current> {
  private readonly stages: readonly AnyStage[];

  constructor(stages: readonly AnyStage[] = []) {
    this.stages = stages;
  }

  /** Adds a stage below the ones already in the chain. */
  then<Next>(stage: Stage<Current, Next>): Chain<In, Next> {
    return new Chain<In, Next>([...this.stages, stage as unknown as AnyStage]);
  }

  /** Closes the chain with the handler that does the work. */
  end(last: Handler<Current>): Handler<In> {
    let handler = last as unknown as Handler<never>;
    for (let i = this.stages.length - 1; i >= 0; i--) handler = this.stages[i]!(handler);
    return handler as unknown as Handler<In>;
  }
}

export const chain = <X>(): Chain<X, X> => new Chain<X, X>();
