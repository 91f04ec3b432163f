/* emu_api.h: the C interface of the CPU emulator (build tag cudaemu). */
#ifndef ADB_EMU_API_H
#define ADB_EMU_API_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* emu_launch runs kernel `name` over a grid of blocks, each of bx·by·bz
   threads, with `smem` bytes of dynamic shared memory and the argument block
   args (size bytes). It returns 0, or -1 with a message in err. */
int emu_launch(const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
               unsigned smem, const void *args, size_t size, char *err, size_t errlen);

/* emu_has reports whether a kernel of that name exists (1) or not (0). */
int emu_has(const char *name);

/* emu_attn_tc_smem is attn_tc's shared memory for head dimension hd (-1: none). */
int emu_attn_tc_smem(int hd);

#ifdef __cplusplus
}
#endif

#endif
