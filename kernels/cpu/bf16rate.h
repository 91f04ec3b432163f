#ifndef ADAPTERDB_BF16RATE_H
#define ADAPTERDB_BF16RATE_H
/* bf16_rate: multiply-adds per second of vdpbf16ps over those of vfmadd
   (float32), both on 512-bit registers on the calling thread; 0 where it
   cannot be measured. Call only on CPUs with AVX512_BF16. Takes ~0.2 ms. */
double bf16_rate(void);
#endif
