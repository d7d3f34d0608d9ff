/** The 5 NAS-Bench-201 architectures every benchmark times (engine.bench.ts, the GPU check). */
export const BENCH_ARCHS: Record<string, string> = {
  'all-none': '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|',
  'all-skip': '|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|',
  'all-conv3x3': '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|',
  'best-known': '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|',
  'pool-mixed': '|avg_pool_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|',
};
