/* The library's version (syndisco.h's SD_VERSION_*). */
#include "syndisco.h"

const char *sd_version(void) { return SD_VERSION_STRING; }
