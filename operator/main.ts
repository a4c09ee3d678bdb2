// Placeholder until the operator lands (issue 6): say so plainly instead of pretending.
export async function runOperator(_args: string[]): Promise<void> {
  throw new Error('the operator is not built yet in this version');
}
