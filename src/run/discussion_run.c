/*
 * A whole discussion on one backend, blocking: the simple driver of the
 * core's next/accept state machine for one discussion at a time (the
 * experiment workload drives many at once through run/loop.c instead).
 */
#include <string.h>

#include "core/core.h"
#include "syndisco.h"
#include "util/error.h"

int sd_discussion_run(sd_discussion *d, sd_backend *b, sd_comment_cb on_comment, void *ud,
		      sd_error *err)
{
	sd_request req;
	sd_reply reply;
	int rc;
	memset(&reply, 0, sizeof(reply));
	if (!d || !b)
		return sd__error_set(err, SD_EINVAL, NULL, NULL,
				     "a discussion and a backend are needed");
	for (;;) {
		sd__discussion_report(d, on_comment, ud);
		rc = sd_discussion_next(d, &req);
		if (rc == 0)
			break;
		if (rc < 0)
			return sd__error_set(err, rc, NULL, NULL,
					     "could not prepare the next turn: %s",
					     sd_strerror(rc));
		rc = sd_backend_submit(b, &req);
		if (rc)
			return sd__error_set(err, rc, NULL, NULL,
					     "backend refused the request: %s",
					     sd_backend_last_error(b));
		while ((rc = sd_backend_collect(b, &reply)) == 0) {
			int active = sd_backend_step(b);
			if (active < 0)
				return sd__error_set(err, SD_EBACKEND, NULL, NULL, "%s",
						     sd_backend_last_error(b));
			if (active > 0)
				continue;
			/* idle and still no reply: it was lost, do not spin */
			if ((rc = sd_backend_collect(b, &reply)) == 0)
				return sd__error_set(err, SD_EBACKEND, NULL, NULL,
						     "the backend dropped a request");
			break;
		}
		if (rc < 0)
			return sd__error_set(err, rc, NULL, NULL,
					     "could not collect a reply");
		if (reply.status != SD_OK) {
			rc = sd__error_set(err, reply.status, NULL, NULL,
					   "generation failed for %s: %s",
					   sd_discussion_pending_speaker(d),
					   reply.error ? reply.error : "unknown");
			sd_reply_clear(&reply);
			return rc;
		}
		rc = sd_discussion_accept(d, reply.text, &reply);
		sd_reply_clear(&reply);
		if (rc)
			return sd__error_set(err, rc, NULL, NULL,
					     "could not record the reply: %s",
					     sd_strerror(rc));
	}
	sd__discussion_report(d, on_comment, ud);
	return SD_OK;
}
