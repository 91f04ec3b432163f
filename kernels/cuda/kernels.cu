// kernels.cu: nvcc's entry point for the PTX module (make ptx); the kernels
// are in kern_entry.h and the kern_*.h files it includes.
#include "kern_entry.h"
