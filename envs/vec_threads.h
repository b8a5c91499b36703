// vec_threads.h: the thread pool that splits one vector step over threads
// (part of vec_binding.h). It knows nothing of envs: it runs
// run(ctx, start, end) over blocks of [0, count) on the caller's thread and
// num_threads - 1 workers, and returns when every block is done.
//
// [DESIGN] A persistent pool: the workers are started once, in pl_vec_init,
// and sleep between steps. Each step the caller and the workers take blocks
// from a shared counter until none is left, so a thread the OS descheduled
// (the machine is shared) delays nobody: the others take its blocks. Envs are
// independent, so who steps which env does not change any number.
typedef void (*PlRangeFn)(void* ctx, int start, int end);

#ifdef PL_CORE_ONLY
// The web page (WASI) has no threads: no pool starts, envs step on the
// caller's thread, and these stand-ins are never called with a pool.
typedef struct PlPool PlPool;
static PlPool* pl_pool_start(int num_threads, int count, PlRangeFn run, void* ctx) {
    (void)num_threads; (void)count; (void)run; (void)ctx;
    return NULL;
}
static void pl_pool_run(PlPool* p) { (void)p; }
static void pl_pool_stop(PlPool* p) { (void)p; }
#else
#include <pthread.h>
#include <sched.h>

typedef struct PlPool {
    pthread_t threads[63];
    int num_workers;
    int count;                 // items (envs) per step
    int block;                 // items taken at a time
    PlRangeFn run;             // runs items [start, end) of ctx
    void* ctx;
    uint64_t work;             // (step generation << 32) | next item to take
    int busy;                  // workers between "may take a block" and "done"
    int quit;
    uint32_t generation;       // the step the workers were last woken for
    pthread_mutex_t lock;
    pthread_cond_t wake;
} PlPool;

// Takes blocks of step `generation` and runs them until none is left.
static void pl_take_blocks(PlPool* p, uint32_t generation) {
    uint64_t w = __atomic_load_n(&p->work, __ATOMIC_SEQ_CST);
    for (;;) {
        uint32_t start = (uint32_t)w;
        if ((uint32_t)(w >> 32) != generation || start >= (uint32_t)p->count) return;
        // The compare-and-swap also checks the generation, so a late worker
        // can never take a block of the next step.
        if (__atomic_compare_exchange_n(&p->work, &w, w + p->block, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            int end = start + p->block < (uint32_t)p->count ? (int)start + p->block : p->count;
            p->run(p->ctx, (int)start, end);
            w = __atomic_load_n(&p->work, __ATOMIC_SEQ_CST);
        }
    }
}

static void* pl_pool_worker(void* arg) {
    PlPool* p = (PlPool*)arg;
    uint32_t seen = 0;
    for (;;) {
        // Poll a little before sleeping: back-to-back steps then skip the
        // sleep/wake round trip, which costs about as long as a small step.
        // sched_yield lets other processes run meanwhile (shared machines).
        for (int k = 0; k < 200 && __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE) == seen; k++)
            sched_yield();
        pthread_mutex_lock(&p->lock);
        while (p->generation == seen && !p->quit) pthread_cond_wait(&p->wake, &p->lock);
        seen = p->generation;
        int quit = p->quit;
        // Counted busy before taking any block: the caller waits for busy == 0.
        __atomic_add_fetch(&p->busy, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&p->lock);
        if (!quit) pl_take_blocks(p, seen);
        __atomic_sub_fetch(&p->busy, 1, __ATOMIC_SEQ_CST);
        if (quit) return NULL;
    }
}

// Starts the workers; NULL (run single-threaded) when one thread is enough
// or none could start.
static PlPool* pl_pool_start(int num_threads, int count, PlRangeFn run, void* ctx) {
    int t = num_threads < count ? num_threads : count;
    if (t > 64) t = 64;
    if (t <= 1) return NULL;
    PlPool* p = calloc(1, sizeof(PlPool));
    if (!p) return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->count = count;
    p->block = count / (4 * t) > 0 ? count / (4 * t) : 1;  // ~4 blocks per thread
    p->run = run;
    p->ctx = ctx;
    for (int k = 0; k < t - 1; k++)
        if (pthread_create(&p->threads[p->num_workers], NULL, pl_pool_worker, p) == 0) p->num_workers++;
    if (p->num_workers == 0) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->wake);
        free(p);
        return NULL;
    }
    return p;
}

// One step: wakes the workers, runs blocks on this thread too, and returns
// when all blocks are done.
static void pl_pool_run(PlPool* p) {
    pthread_mutex_lock(&p->lock);
    uint32_t generation = p->generation + 1;
    __atomic_store_n(&p->generation, generation, __ATOMIC_RELEASE);
    __atomic_store_n(&p->work, (uint64_t)generation << 32, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pl_take_blocks(p, generation);
    // Every block is taken; wait until the workers finished the ones they took.
    while (__atomic_load_n(&p->busy, __ATOMIC_SEQ_CST) > 0) sched_yield();
}

static void pl_pool_stop(PlPool* p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int k = 0; k < p->num_workers; k++) pthread_join(p->threads[k], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p);
}
#endif  // PL_CORE_ONLY
