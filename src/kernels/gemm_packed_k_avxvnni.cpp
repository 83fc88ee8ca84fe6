// gemm_packed_k_avx2.cpp's tiles over Q4_K, Q5_K and Q6_K, compiled with
// AVX-VNNI (this file's name gives it -mavxvnni): the same source, taking its
// kVnni branches (vpdpbusd sums, vpdpwssd for vpmaddwd + vpaddd), exported as
// gemm_packed_q4k_avxvnni, gemm_packed_q5k_avxvnni and gemm_packed_q6k_avxvnni.
#include "kernels/gemm_packed_k_avx2.cpp"
