/* libFuzzer target for the event package readers (PIDF, message-summary,
 * dialog-info): any crash, over-read, hang or leak is a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy exactly as long as the input: over-reads are caught */
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct cv_pl body = {copy, size};
	struct cv_pidf p;
	struct cv_mwi w;
	struct cv_dialog_info di;
	cv_pidf_parse(body, &p);
	cv_mwi_parse(body, &w);
	cv_dialog_info_parse(body, &di);
	free(copy);
	return 0;
}
