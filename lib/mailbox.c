/*
 * mailbox.c - choose the source driver by URL scheme.
 */
#include "mailbox.h"
#include "util.h"

#include <string.h>

static const struct mailbox_driver *const drivers[] = { &maildir_driver, NULL };

const struct mailbox_driver *mailbox_driver_for(const char *url)
{
	for (size_t i = 0; drivers[i] != NULL; i++)
		if (g_str_has_prefix(url, drivers[i]->scheme))
			return drivers[i];
	return NULL;
}

int mailbox_open(const struct config_mailbox *cfg, struct mailbox **box_r, char **error_r)
{
	const struct mailbox_driver *drv = mailbox_driver_for(cfg->url);

	if (drv == NULL) {
		error_set(error_r, "%s: this kind of mailbox is not supported yet", cfg->url);
		return -1;
	}
	if (drv->open(cfg, box_r, error_r) < 0)
		return -1;
	(*box_r)->driver = drv;
	(*box_r)->source = g_strdup(cfg->url);
	return 0;
}

void mailbox_close(struct mailbox **box)
{
	if (*box == NULL)
		return;
	(*box)->driver->close(box);
}
