/* catalog.c: rows describing shipped models and hardware. */
#include "report/catalog.h"

#include "model/registry.h"

#include <stdio.h>
#include <stdlib.h>

cJSON *sim_catalog_model_row(const sim_model *m)
{
    sim_param_counts pc;
    sim_model_params(m, &pc);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON_AddStringToObject(o, "display_name", m->display_name);
    cJSON_AddStringToObject(o, "aliases", m->aliases);
    cJSON_AddNumberToObject(o, "total_params_b", pc.total / 1e9);
    /* active weights per token counted the way the model's owner publishes them (some leave
     * out the embedding, some the LM head too), so the column compares with their figure;
     * the count with both is beside it */
    cJSON_AddNumberToObject(o, "active_params_b", pc.active_comparable / 1e9);
    cJSON_AddNumberToObject(o, "active_params_with_embeddings_b", pc.active / 1e9);
    cJSON_AddNumberToObject(o, "published_total_b", m->published.total_params / 1e9);
    cJSON_AddNumberToObject(o, "published_active_b", m->published.active_params / 1e9);
    cJSON_AddNumberToObject(o, "layers", m->layers);
    cJSON_AddNumberToObject(o, "hidden", m->hidden);
    /* hybrids name their state-space / linear-attention mixer beside the attention kind */
    const char *attn = m->attn.kind == SIM_ATTN_MLA ? "mla" : "gqa";
    char mix[32];
    snprintf(mix, sizeof mix, "%s+%s", attn, m->hybrid.kind == SIM_SSM_MAMBA2 ? "mamba2" : "gdn");
    cJSON_AddStringToObject(o, "attention", m->hybrid.on ? mix : attn);
    cJSON_AddNumberToObject(o, "experts", m->ffn.experts);
    cJSON_AddNumberToObject(o, "top_k", m->ffn.top_k);
    cJSON_AddNumberToObject(o, "shared_experts", m->ffn.shared_experts);
    cJSON_AddNumberToObject(o, "kv_kib_per_token_bf16", sim_model_kv_elems_per_token(m) * 2 / 1024);
    /* the experts' format, and the shared experts' beside it when the checkpoint keeps them
     * in another (Kimi K2 Thinking: "int4_g32, shared bf16") */
    char native[64];
    if (m->ffn.shared_experts > 0 && m->native_shared != m->native_experts)
        snprintf(native, sizeof native, "%s, shared %s", sim_wformat_name(m->native_experts),
                 sim_wformat_name(m->native_shared));
    else
        snprintf(native, sizeof native, "%s", sim_wformat_name(m->native_experts));
    cJSON_AddStringToObject(o, "native_precision", native);
    cJSON_AddStringToObject(o, "file", m->path);
    return o;
}

cJSON *sim_catalog_hw_row(const sim_hw *h)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", h->name);
    cJSON_AddStringToObject(o, "display_name", h->display_name);
    cJSON_AddStringToObject(o, "class", sim_hw_class_name(h->cls));
    cJSON_AddNumberToObject(o, "bf16_tflops", h->peak_flops[SIM_DT_BF16] / 1e12);
    cJSON_AddNumberToObject(o, "fp8_tflops", h->peak_flops[SIM_DT_FP8] / 1e12);
    cJSON_AddNumberToObject(o, "fp4_tflops", h->peak_flops[SIM_DT_FP4] / 1e12);
    cJSON_AddNumberToObject(o, "fp32_tflops", h->peak_flops[SIM_DT_FP32] / 1e12);
    cJSON_AddNumberToObject(o, "memory_gb", h->tiers[0].capacity_bytes / 1e9);
    cJSON_AddNumberToObject(o, "memory_gbs", h->tiers[0].bandwidth_Bps / 1e9);
    cJSON_AddNumberToObject(o, "scale_up_domain", h->scale_up.domain_size);
    cJSON_AddNumberToObject(o, "scale_up_gbs", h->scale_up.bandwidth_Bps / 1e9);
    cJSON_AddNumberToObject(o, "usd_per_hour", h->usd_per_hour);
    cJSON_AddNumberToObject(o, "purchase_usd", h->purchase_usd);
    cJSON_AddNumberToObject(o, "watts", h->power_w);
    cJSON_AddStringToObject(o, "efficiency", h->eff.provenance);
    cJSON_AddStringToObject(o, "file", h->path);
    return o;
}

#define MAX_SHIPPED 256

/* The names of shipped cards (the caller's buffer of MAX_SHIPPED). */
typedef char catalog_names[MAX_SHIPPED][64];

static int models_into(catalog_names names, cJSON **rows, sim_err *err)
{
    int n = sim_registry_list_models(names, MAX_SHIPPED);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n && i < MAX_SHIPPED; i++) {
        sim_model m;
        if (sim_registry_model(names[i], &m, err)) {
            cJSON_Delete(arr);
            return err->code;
        }
        cJSON_AddItemToArray(arr, sim_catalog_model_row(&m));
    }
    *rows = arr;
    return SIM_OK;
}

/* Shipped hwmodels, then calibrated ones (named "calibrated/NAME", as --hw takes them). */
static int hw_into(catalog_names names, cJSON **rows, sim_err *err)
{
    int shipped = sim_registry_list_hw(names, MAX_SHIPPED);
    if (shipped > MAX_SHIPPED)
        shipped = MAX_SHIPPED;
    int n = shipped + sim_registry_list_calibrated(names + shipped, MAX_SHIPPED - shipped);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n && i < MAX_SHIPPED; i++) {
        if (!names[i][0])
            continue;
        sim_hw h;
        if (sim_registry_hw(names[i], &h, err)) {
            cJSON_Delete(arr);
            return err->code;
        }
        cJSON *row = sim_catalog_hw_row(&h);
        cJSON_ReplaceItemInObject(row, "name", cJSON_CreateString(names[i]));
        cJSON_AddItemToArray(arr, row);
    }
    *rows = arr;
    return SIM_OK;
}

/* The name buffer (16 KiB) lives on the heap for the call. */
static int with_names(int (*fill)(catalog_names, cJSON **, sim_err *), cJSON **rows, sim_err *err)
{
    catalog_names *names = calloc(1, sizeof *names);
    if (!names)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    int rc = fill(*names, rows, err);
    free(names);
    return rc;
}

int sim_catalog_models(cJSON **rows, sim_err *err)
{
    return with_names(models_into, rows, err);
}

int sim_catalog_hw(cJSON **rows, sim_err *err)
{
    return with_names(hw_into, rows, err);
}
