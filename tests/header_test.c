/* Compiled alone as strict C11: the public header must stand on its own. */
#include "syndisco.h"

int main(void)
{
	sd_error err;
	sd_error_clear(&err);
	return sd_strerror(SD_OK)[0] == 'o' ? 0 : 1;
}
