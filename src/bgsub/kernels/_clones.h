/* BGSUB_CLONES: GCC function multi-versioning for the C loops of the kernels -- AVX-512, AVX2
 * and the x86-64 baseline, chosen when the module loads; elsewhere (other compilers, CPUs and
 * systems) the plain loop. Every version runs the same IEEE operations: the same bits.
 * -DBGSUB_CLONES= builds the baseline only (the tests of the other widths use it). */
#ifndef BGSUB_CLONES_H
#define BGSUB_CLONES_H

#ifndef BGSUB_CLONES
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define BGSUB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#endif
#ifndef BGSUB_CLONES
#define BGSUB_CLONES
#endif

#endif
