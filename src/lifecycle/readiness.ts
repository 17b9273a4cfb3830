/** Whether this replica should receive traffic: true until shutdown begins. */
export class Readiness {
  #draining = false;

  constructor(readonly routesVersion: () => number) {}

  get draining(): boolean {
    return this.#draining;
  }

  startDraining(): void {
    this.#draining = true;
  }
}
