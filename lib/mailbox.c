/*
 * mailbox.c - choose the source driver by URL scheme.
 */
#include "mailbox.h"
#include "util.h"

#include <string.h>

static const struct mailbox_driver *const drivers[] = {
	&maildir_driver, &mbox_driver,  &imap_driver, &imaps_driver,
	&pop3_driver,    &pop3s_driver, NULL,
};

char *mailbox_source(const struct config_mailbox *cfg)
{
	const char *sep = strstr(cfg->url, "://");

	/* maildir:/path and mbox:/path are their own identity; a network
	 * mailbox is also its user's. */
	if (sep == NULL || cfg->user == NULL)
		return g_strdup(cfg->url);
	return g_strdup_printf("%.*s://%s@%s", (int)(sep - cfg->url), cfg->url, cfg->user, sep + 3);
}

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
	(*box_r)->source = mailbox_source(cfg);
	return 0;
}

void mailbox_close(struct mailbox **box)
{
	if (*box == NULL)
		return;
	(*box)->driver->close(box);
}
