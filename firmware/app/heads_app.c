#include "heads_app.h"

#include "heads.h"
#include "uart_proto.h"

void heads_send_scores(uint32_t timestamp_ms, const int16_t *embedding)
{
    int8_t logits[HEADS_MAX_CLASSES];
    for (int i = 0; i < HEADS_NUM; i++) {
        const head_info_t *h = &heads_info[i];
        int top = heads_run(i, embedding, logits);
        uint8_t name_len = 0;
        while (h->name[name_len]) name_len++;
        proto_begin(PROTO_SCORES, timestamp_ms, (uint16_t)(13 + name_len + h->n_classes));
        proto_put_u8((uint8_t)i);
        proto_put_u8(h->n_classes);
        proto_put_u8(h->multi_label);
        proto_put_u8((uint8_t)top);
        proto_put_f32(h->scale);
        proto_put_u32((uint32_t)h->zero_point);
        proto_put_u8(name_len);
        proto_put(h->name, name_len);
        proto_put(logits, h->n_classes);
        proto_end();
    }
}
