/* The model file: mapped read-only, checked, dequantized once into one float array that the
 * nets' parameters point into. The map is released after parsing; nothing else reads it. */
#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static double rdf64(const uint8_t *p)
{
    uint64_t u = rd64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static float rdf32(const uint8_t *p)
{
    uint32_t u = rd32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

nova_status vm_parse(nova_vision_model_t *m, const uint8_t *data, size_t len)
{
    if (len < VM_HEADER || memcmp(data, VM_MAGIC, 8) != 0 || rd32(data + 8) != VM_VERSION)
        return NOVA_INVALID;
    uint32_t count = rd32(data + 12);
    uint64_t table = rd64(data + 16), size = rd64(data + 32);
    if (size != len || count == 0 || count > 4096 || table != VM_HEADER ||
        table + (uint64_t)count * VM_ENTRY > len)
        return NOVA_INVALID;
    vm_tensor_t *ts = calloc(count, sizeof *ts);
    size_t *offs = calloc(count, sizeof *offs);
    uint32_t *dtypes = calloc(count, sizeof *dtypes);
    double *scale = calloc(count, sizeof *scale), *min = calloc(count, sizeof *min);
    float *floats = NULL;
    nova_status st = NOVA_NOMEM;
    if (!ts || !offs || !dtypes || !scale || !min)
        goto end;
    st = NOVA_INVALID;
    size_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = data + table + (size_t)i * VM_ENTRY;
        if (memchr(e, 0, VM_NAME) == NULL)
            goto end;
        memcpy(ts[i].name, e, VM_NAME);
        dtypes[i] = rd32(e + 80);
        uint32_t ndim = rd32(e + 84);
        if ((dtypes[i] != 1 && dtypes[i] != 2) || ndim < 1 || ndim > 4)
            goto end;
        size_t n = 1;
        for (uint32_t k = 0; k < ndim; k++) {
            uint32_t d = rd32(e + 88 + 4 * k);
            if (d == 0 || d > (1u << 24) || n > ((size_t)1 << 28) / d)
                goto end;
            n *= d;
            ts[i].p.shape[k] = (int)d;
        }
        ts[i].p.ndim = (int)ndim;
        ts[i].p.count = n;
        scale[i] = rdf64(e + 104);
        min[i] = rdf64(e + 112);
        uint64_t off = rd64(e + 120), nbytes = dtypes[i] == 1 ? n : 4 * n;
        if (off < table + (uint64_t)count * VM_ENTRY || off > len || nbytes > len - off)
            goto end;
        offs[i] = (size_t)off;
        total += n;
        if (total > ((size_t)1 << 28))
            goto end;
    }
    st = NOVA_NOMEM;
    floats = malloc(total * sizeof(float));
    if (!floats)
        goto end;
    float *f = floats;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *src = data + offs[i];
        if (dtypes[i] == 1)
            for (size_t k = 0; k < ts[i].p.count; k++)
                f[k] = (float)(src[k] * scale[i] + min[i]);
        else
            for (size_t k = 0; k < ts[i].p.count; k++)
                f[k] = rdf32(src + 4 * k);
        ts[i].p.d = f;
        f += ts[i].p.count;
    }
    m->tensors = ts;
    m->count = count;
    m->floats = floats;
    ts = NULL;
    floats = NULL;
    st = NOVA_OK;
end:
    free(ts);
    free(offs);
    free(dtypes);
    free(scale);
    free(min);
    free(floats);
    return st;
}

const vparam_t *vm_find(const nova_vision_model_t *m, const char *name, int ndim)
{
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return m->tensors[i].p.ndim == ndim ? &m->tensors[i].p : NULL;
    return NULL;
}

nova_status nova_vision_model_open(const char *path, nova_vision_model_t **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? NOVA_NOT_FOUND : NOVA_UNAVAILABLE;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size < VM_HEADER) {
        close(fd);
        return NOVA_INVALID;
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return NOVA_UNAVAILABLE;
    nova_vision_model_t *m = calloc(1, sizeof *m);
    if (!m) {
        munmap(map, (size_t)sb.st_size);
        return NOVA_NOMEM;
    }
    nova_status st = vm_parse(m, map, (size_t)sb.st_size);
    munmap(map, (size_t)sb.st_size);
    if (st == NOVA_OK)
        st = tiny_bind(m);
    if (st == NOVA_OK)
        st = landmark_bind(m);
    if (st == NOVA_OK)
        st = recog_bind(m);
    if (st == NOVA_OK)
        st = ssd_bind(m);
    if (st != NOVA_OK) {
        nova_vision_model_free(m);
        return st;
    }
    /* The engine has no threads of its own: callers parallelise across requests. */
    openblas_set_num_threads(1);
    *out = m;
    return NOVA_OK;
}

void nova_vision_model_free(nova_vision_model_t *m)
{
    if (!m)
        return;
    free(m->tensors);
    free(m->floats);
    free(m);
}
