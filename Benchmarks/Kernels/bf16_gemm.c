// The bf16 GEMM (training.precision: bf16) against the float32 one at the model's GEMM shapes, and
// the instruction peaks behind them: VDPBF16PS (32 multiply-adds) against VFMADD (16), 24 independent
// chains on one thread. One thread, thread CPU time, best of 7 alternating runs (docs/results/kernels.md,
// "bf16 mixed precision"). Build and run (from the repository root):
//   clang -O2 -w -ISources/CKernels/include Benchmarks/Kernels/bf16_gemm.c Sources/CKernels/gemm*.c -lpthread -o /tmp/bf16_gemm && /tmp/bf16_gemm
#include "ckernels.h"
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){ struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t); return t.tv_sec+1e-9*t.tv_nsec; }
static float* rnd(long n){ float*p=malloc(4*n); for(long i=0;i<n;i++) p[i]=(float)rand()/RAND_MAX-0.5f; return p;}
__attribute__((target("avx512f,avx512bf16"))) double bf(long n, int chains){
  __m512 acc[24]; for(int i=0;i<24;i++) acc[i]=_mm512_set1_ps(i*1e-3f);
  __m512bh x=(__m512bh)_mm512_set1_epi32(0x3f803f80), y=(__m512bh)_mm512_set1_epi32(0x3f803f80);
  double t0=now();
  for(long i=0;i<n;i++){
    #pragma clang loop unroll(full)
    for(int c=0;c<24;c++) acc[c]=_mm512_dpbf16_ps(acc[c],x,y);
    __asm__ volatile("" : "+v"(x));
  }
  double t=now()-t0; float s=0; for(int i=0;i<24;i++) s+=_mm512_reduce_add_ps(acc[i]); if(s==1) printf("x");
  return 24.0*n*64/t/1e9;
}
__attribute__((target("avx512f,fma"))) double fm(long n){
  __m512 acc[24]; for(int i=0;i<24;i++) acc[i]=_mm512_set1_ps(i*1e-3f);
  __m512 x=_mm512_set1_ps(1.0f), y=_mm512_set1_ps(1e-7f);
  double t0=now();
  for(long i=0;i<n;i++){
    #pragma clang loop unroll(full)
    for(int c=0;c<24;c++) acc[c]=_mm512_fmadd_ps(x,y,acc[c]);
    __asm__ volatile("" : "+v"(x));
  }
  double t=now()-t0; float s=0; for(int i=0;i<24;i++) s+=_mm512_reduce_add_ps(acc[i]); if(s==1) printf("x");
  return 24.0*n*32/t/1e9;
}
int main(void) {
    for (int r = 0; r < 3; r++)
        printf("peak, one core: fp32 FMA %.1f GFLOP/s, VDPBF16PS %.1f GFLOP/s\n", fm(20000000), bf(20000000, 24));
  // name, ta, tb, m, n, k, packed
  struct { const char*name; int ta,tb; long m,n,k; int packed; } s[] = {
    {"per-step h.R^T H512 (32x2048x512)",0,1,32,2048,512,1},
    {"per-step dG.R H512 (32x512x2048)",0,0,32,512,2048,1},
    {"X.W^T H512 (3200x2048x128)",0,1,3200,2048,128,0},
    {"dW H512 (2048x128x3200)",1,0,2048,128,3200,0},
    {"dR H512 (2048x512x3200)",1,0,2048,512,3200,0},
    {"dX H512 (3200x128x2048)",0,0,3200,128,2048,0},
    {"per-step h.R^T H1024 (32x4096x1024)",0,1,32,4096,1024,1},
    {"square 1024^3",0,0,1024,1024,1024,0},
  };
  for(int i=0;i<8;i++){
    long m=s[i].m,n=s[i].n,k=s[i].k; long lda=s[i].ta?m:k, ldb=s[i].tb?k:n;
    float*a=rnd(m*k),*b=rnd(k*n),*c=rnd(m*n); float*pk=malloc(4*lstm_sgemm_packed_size(k,n));
    double best[2]={0,0}; int kinds[2]={2,3};
    for(int rep=0;rep<7;rep++) for(int q=0;q<2;q++){
      int kd=kinds[q]; long iters = (long)(2e9/(2.0*m*n*k))+1;
      if(s[i].packed) lstm_sgemm_pack_b(kd,s[i].tb,k,n,b,ldb,pk);
      double t0=now();
      for(long it=0;it<iters;it++){
        if(s[i].packed) lstm_sgemm_packed(kd,0,m,n,k,1,a,lda,pk,1,c,n);
        else lstm_sgemm(kd,s[i].ta,s[i].tb,m,n,k,1,a,lda,b,ldb,0,c,n);
      }
      double g=2.0*m*n*k*iters/(now()-t0)/1e9; if(g>best[q]) best[q]=g;
    }
    printf("%-40s fp32 %6.1f  bf16 %6.1f GFLOP/s  (x%.2f)\n",s[i].name,best[0],best[1],best[1]/best[0]);
  }
}
