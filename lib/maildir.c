/*
 * maildir.c - the Maildir source, by the plain conventions: readdir(new/),
 * read the file, and after the commit rename it to cur/ with the S flag,
 * move it to a Maildir++ folder, or unlink it.  (libetpan's Maildir driver
 * writes into the mailbox and misses mail that arrives in the second of the
 * last scan; see ../shared/LIBRARIES.md.)
 *
 * A message's uid is its base name in new/ without any ":2,..." info part.
 */
#include "mailbox.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct maildir {
	struct mailbox box; /* must be first */
	char *path;
	enum mailbox_after after;
	char *folder_path; /* Maildir++ folder for MAILBOX_AFTER_MOVE */
};

static int ensure_dir(const char *path, char **error_r)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		error_set(error_r, "mkdir(%s): %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int maildir_open(const struct config_mailbox *cfg, struct mailbox **box_r, char **error_r)
{
	const char *path = cfg->url + strlen("maildir:");
	struct maildir *md;
	struct stat st;
	char *newdir;
	int ret;

	newdir = g_build_filename(path, "new", NULL);
	ret = stat(newdir, &st);
	g_free(newdir);
	if (ret < 0 || !S_ISDIR(st.st_mode)) {
		error_set(error_r, "%s: not a Maildir (no new/ directory)", path);
		return -1;
	}
	md = g_new0(struct maildir, 1);
	md->path = g_strdup(path);
	md->after = cfg->after;
	if (cfg->after == MAILBOX_AFTER_MOVE) {
		char *dot = g_strconcat(".", cfg->after_folder, NULL);
		md->folder_path = g_build_filename(path, dot, NULL);
		g_free(dot);
	}
	*box_r = &md->box;
	return 0;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int maildir_list(struct mailbox *box, GPtrArray **uids_r, char **error_r)
{
	struct maildir *md = (struct maildir *)box;
	char *newdir = g_build_filename(md->path, "new", NULL);
	GPtrArray *uids;
	struct dirent *de;
	DIR *dir;

	dir = opendir(newdir);
	if (dir == NULL) {
		error_set(error_r, "opendir(%s): %s", newdir, strerror(errno));
		g_free(newdir);
		return -1;
	}
	uids = g_ptr_array_new_with_free_func(g_free);
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		g_ptr_array_add(uids, g_strdup(de->d_name));
	}
	closedir(dir);
	g_free(newdir);
	/* Maildir names begin with the delivery time: name order is close to
	 * arrival order, which keeps a thread's messages in sequence. */
	g_ptr_array_sort(uids, compare_names);
	*uids_r = uids;
	return 0;
}

/* A file that cannot be read is this message's trouble (another reader
 * took it, its mode is wrong); the directory stays usable. */
static enum mailbox_status maildir_fetch(struct mailbox *box, const char *uid, char **data_r,
					 size_t *len_r, char **error_r)
{
	struct maildir *md = (struct maildir *)box;
	char *path = g_build_filename(md->path, "new", uid, NULL);
	int ret = file_read_all(path, 0, data_r, len_r, error_r);

	g_free(path);
	return ret < 0 ? MAILBOX_MSG_BAD : MAILBOX_OK;
}

/* The uid without a ":2,FLAGS" info part. */
static char *base_name(const char *uid)
{
	const char *colon = strchr(uid, ':');
	return colon != NULL ? g_strndup(uid, colon - uid) : g_strdup(uid);
}

static int maildir_ack(struct mailbox *box, const char *uid, char **error_r)
{
	struct maildir *md = (struct maildir *)box;
	char *from = g_build_filename(md->path, "new", uid, NULL);
	char *base = NULL, *to = NULL, *name = NULL;
	int ret = -1;

	if (md->after == MAILBOX_AFTER_DELETE) {
		if (unlink(from) < 0 && errno != ENOENT) {
			error_set(error_r, "unlink(%s): %s", from, strerror(errno));
			goto out;
		}
		ret = 0;
		goto out;
	}
	base = base_name(uid);
	name = g_strconcat(base, ":2,S", NULL);
	if (md->after == MAILBOX_AFTER_MOVE) {
		char *sub[3] = { "cur", "new", "tmp" };
		if (ensure_dir(md->folder_path, error_r) < 0)
			goto out;
		for (int i = 0; i < 3; i++) {
			char *d = g_build_filename(md->folder_path, sub[i], NULL);
			int r = ensure_dir(d, error_r);
			g_free(d);
			if (r < 0)
				goto out;
		}
		to = g_build_filename(md->folder_path, "cur", name, NULL);
	} else {
		to = g_build_filename(md->path, "cur", name, NULL);
	}
	if (rename(from, to) < 0) {
		error_set(error_r, "rename(%s, %s): %s", from, to, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	g_free(from);
	g_free(to);
	g_free(base);
	g_free(name);
	return ret;
}

static void maildir_close(struct mailbox **box)
{
	struct maildir *md = (struct maildir *)*box;

	g_free(md->path);
	g_free(md->folder_path);
	g_free(md->box.source);
	g_free(md);
	*box = NULL;
}

const struct mailbox_driver maildir_driver = {
	.scheme = "maildir:",
	.open = maildir_open,
	.list = maildir_list,
	.fetch = maildir_fetch,
	.ack = maildir_ack,
	.close = maildir_close,
};
