// gemm_packed_avx2.cpp's tiles over Q4_0/Q8_0, compiled with AVX-VNNI (this
// file's name gives it -mavxvnni): the same source, its vpmaddubsw products
// replaced by vpdpbusd where kVnni says (tiles_avx2.h), exported as
// gemm_packed_avxvnni.
#include "kernels/gemm_packed_avx2.cpp"
