/* Helpers shared by metrics.c and bus.c (not public). */
#ifndef CVOIP_METRICS_INT_H
#define CVOIP_METRICS_INT_H

#include <jansson.h>

/* A JSON string for text that may not be valid UTF-8 (label values, SIP
 * header text): invalid bytes become U+FFFD. NULL gives JSON null. */
json_t *cv_json_text(const char *s);

#endif
