/**
 * Parameter count and FLOPs of a network, counted the way NAS-Bench-201 reports them: parameters of
 * every module that runs (conv, BN affine, classifier), FLOPs of convolutions and the classifier only
 * (multiply-accumulates, plus the bias), per image.
 */
import type { PlanInfo } from '../native.js';
import type { NetworkPlan } from '../plan/types.js';

export interface NetworkCost {
  /** Parameters, in millions. */
  params: number;
  /** FLOPs per image, in millions. */
  flops: number;
}

export function planCost(plan: NetworkPlan, info: PlanInfo): NetworkCost {
  const size = (i: number) => plan.params[i].shape.reduce((a, b) => a * b, 1);
  let params = 0;
  for (const i of info.usedParams) params += size(i);
  let flops = 0;
  // usedParams already reflects liveness; FLOPs follow the same nodes (those reading a used parameter).
  const used = new Set(info.usedParams);
  plan.nodes.forEach((n, i) => {
    if (n.op === 'conv2d' && used.has(n.weight)) {
      const [cout, cinPerGroup, kh, kw] = plan.params[n.weight].shape;
      const [, h, w] = info.nodeShapes[i];
      flops += h * w * cout * cinPerGroup * kh * kw + (n.bias !== undefined ? h * w * cout : 0);
    } else if (n.op === 'linear' && used.has(n.weight)) {
      const [out, inp] = plan.params[n.weight].shape;
      flops += out * inp + (n.bias !== undefined ? out : 0);
    }
  });
  return { params: params / 1e6, flops: flops / 1e6 };
}
