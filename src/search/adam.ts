/** Adam (Kingma & Ba) on a flat parameter vector, with PyTorch's defaults (betas 0.9, 0.999, eps 1e-8). */
export class Adam {
  readonly #m: Float64Array;
  readonly #v: Float64Array;
  #t = 0;

  constructor(readonly params: Float64Array, readonly lr: number, readonly beta1 = 0.9, readonly beta2 = 0.999, readonly eps = 1e-8) {
    this.#m = new Float64Array(params.length);
    this.#v = new Float64Array(params.length);
  }

  /** One step against the gradient `grad` of the loss. */
  step(grad: ArrayLike<number>): void {
    this.#t++;
    const b1t = 1 - this.beta1 ** this.#t, b2t = 1 - this.beta2 ** this.#t;
    for (let i = 0; i < this.params.length; i++) {
      this.#m[i] = this.beta1 * this.#m[i] + (1 - this.beta1) * grad[i];
      this.#v[i] = this.beta2 * this.#v[i] + (1 - this.beta2) * grad[i] * grad[i];
      const mhat = this.#m[i] / b1t, vhat = this.#v[i] / b2t;
      this.params[i] -= (this.lr * mhat) / (Math.sqrt(vhat) + this.eps);
    }
  }
}
