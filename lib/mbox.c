/*
 * mbox.c - the mbox source: a file of messages each starting with a
 * "From " line, locked the way local delivery agents lock it (a dotlock
 * file and an fcntl lock, both held from open to close).
 *
 * libetpan's mbox driver rewrites the file with its own headers, a new inode
 * and mode 0600 (../shared/LIBRARIES.md), so this is plain code: the file is read
 * whole, split at "From " lines that follow an empty line, and ">From "
 * quoting is undone (mboxrd).  A message's uid is the SHA-256 of its From
 * line and content, which stays the same when other messages are removed.
 *
 * Acknowledged messages are removed by flush, in place (the inode stays, so
 * a delivery agent waiting for the lock appends to the right file): the
 * messages that stay, and anything appended since the read, are first
 * written to FILE.ticketd-keep (fsync), then over FILE, which is truncated;
 * then the keep file goes.  A crash in between leaves the keep file, and the
 * next open writes it back first.
 */
#include "mailbox.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MBOX_LOCK_WAIT     30  /* seconds to wait for a lock */
#define MBOX_DOTLOCK_STALE 300 /* a dotlock older than this is stale */

struct mbox_msg {
	char *uid;
	size_t start, end; /* the message, From line included, in data */
	bool acked;
};

struct mbox {
	struct mailbox box; /* must be first */
	char *path, *lock_path, *keep_path;
	int fd;
	bool dotlocked;
	char *data; /* the file as read at open */
	size_t len;
	GArray *msgs; /* struct mbox_msg */
};

static int write_all(int fd, const char *buf, size_t len, char **error_r, const char *path)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set(error_r, "write(%s): %s", path, strerror(errno));
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Replaces the whole content of the open file fd with buf, in place. */
static int overwrite(int fd, const char *buf, size_t len, const char *path, char **error_r)
{
	if (lseek(fd, 0, SEEK_SET) < 0 || write_all(fd, buf, len, error_r, path) < 0)
		return -1;
	if (ftruncate(fd, (off_t)len) < 0 || fsync(fd) < 0) {
		error_set(error_r, "truncate(%s): %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int dotlock(struct mbox *mb, char **error_r)
{
	for (int i = 0; i < MBOX_LOCK_WAIT * 10; i++) {
		int fd = open(mb->lock_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		struct stat st;

		if (fd >= 0) {
			close(fd);
			mb->dotlocked = true;
			return 0;
		}
		if (errno != EEXIST) {
			error_set(error_r, "cannot create %s: %s", mb->lock_path, strerror(errno));
			return -1;
		}
		if (stat(mb->lock_path, &st) == 0 &&
		    time(NULL) - st.st_mtime > MBOX_DOTLOCK_STALE) {
			log_warning("removing stale lock %s", mb->lock_path);
			unlink(mb->lock_path);
			continue;
		}
		usleep(100000);
	}
	error_set(error_r, "%s is locked by another program", mb->path);
	return -1;
}

static int fcntl_lock(struct mbox *mb, char **error_r)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	for (int i = 0; i < MBOX_LOCK_WAIT * 10; i++) {
		if (fcntl(mb->fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EACCES && errno != EAGAIN) {
			error_set(error_r, "fcntl lock %s: %s", mb->path, strerror(errno));
			return -1;
		}
		usleep(100000);
	}
	error_set(error_r, "%s is locked by another program", mb->path);
	return -1;
}

/* A previous flush was cut short: put back what it meant to keep. */
static int recover_keep(struct mbox *mb, char **error_r)
{
	char *keep = NULL;
	size_t len;
	int ret;

	if (access(mb->keep_path, F_OK) < 0)
		return 0;
	if (file_read_all(mb->keep_path, 0, &keep, &len, error_r) < 0)
		return -1;
	log_warning("%s: finishing an interrupted removal from %s", mb->path, mb->keep_path);
	ret = overwrite(mb->fd, keep, len, mb->path, error_r);
	g_free(keep);
	if (ret == 0)
		unlink(mb->keep_path);
	return ret;
}

/* Splits data at "From " lines that start the file or follow an empty line. */
static void split(struct mbox *mb)
{
	size_t pos = 0;

	while (pos < mb->len) {
		struct mbox_msg m = { .start = pos };
		const char *p = mb->data + pos;
		const char *end = mb->data + mb->len;

		/* find the next separator after this message's From line */
		const char *nl = memchr(p, '\n', end - p);
		const char *next = NULL;
		while (nl != NULL && nl + 1 < end) {
			if (nl[1] == '\n' && end - (nl + 2) >= 5 &&
			    memcmp(nl + 2, "From ", 5) == 0) {
				next = nl + 2;
				break;
			}
			nl = memchr(nl + 1, '\n', end - (nl + 1));
		}
		m.end = next != NULL ? (size_t)(next - mb->data) : mb->len;
		m.uid = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)p,
						    m.end - m.start);
		g_array_append_val(mb->msgs, m);
		pos = m.end;
	}
}

static int mbox_open(const struct config_mailbox *cfg, struct mailbox **box_r, char **error_r)
{
	struct mbox *mb = g_new0(struct mbox, 1);
	char *error = NULL;

	mb->path = g_strdup(cfg->url + strlen("mbox:"));
	mb->lock_path = g_strconcat(mb->path, ".lock", NULL);
	mb->keep_path = g_strconcat(mb->path, ".ticketd-keep", NULL);
	mb->msgs = g_array_new(FALSE, TRUE, sizeof(struct mbox_msg));
	mb->fd = open(mb->path, O_RDWR | O_CLOEXEC);
	if (mb->fd < 0) {
		if (errno == ENOENT) /* no mail has come yet */
			goto done;
		error_set(&error, "open(%s): %s", mb->path, strerror(errno));
		goto fail;
	}
	if (dotlock(mb, &error) < 0 || fcntl_lock(mb, &error) < 0 || recover_keep(mb, &error) < 0)
		goto fail;
	if (file_read_all(mb->path, 0, &mb->data, &mb->len, &error) < 0)
		goto fail;
	if (mb->len > 0 && (mb->len < 5 || memcmp(mb->data, "From ", 5) != 0)) {
		error_set(&error, "%s: not an mbox file (no \"From \" line at the start)",
			  mb->path);
		goto fail;
	}
	split(mb);
done:
	*box_r = &mb->box;
	return 0;
fail:
	error_set(error_r, "%s", error);
	g_free(error);
	*box_r = &mb->box;
	mb->box.driver = &mbox_driver;
	mailbox_close(box_r);
	return -1;
}

static int mbox_list(struct mailbox *box, GPtrArray **uids_r, char **error_r)
{
	struct mbox *mb = (struct mbox *)box;
	GPtrArray *uids = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < mb->msgs->len; i++)
		g_ptr_array_add(uids, g_strdup(g_array_index(mb->msgs, struct mbox_msg, i).uid));
	*uids_r = uids;
	return 0;
}

static struct mbox_msg *find(struct mbox *mb, const char *uid)
{
	for (guint i = 0; i < mb->msgs->len; i++) {
		struct mbox_msg *m = &g_array_index(mb->msgs, struct mbox_msg, i);
		if (strcmp(m->uid, uid) == 0 && !m->acked)
			return m;
	}
	return NULL;
}

/* The file was read whole at open: only a uid it does not hold fails. */
static enum mailbox_status mbox_fetch(struct mailbox *box, const char *uid, char **data_r,
				      size_t *len_r, char **error_r)
{
	struct mbox *mb = (struct mbox *)box;
	struct mbox_msg *m = find(mb, uid);
	GString *out;
	const char *p, *end, *nl;

	if (m == NULL) {
		error_set(error_r, "%s: no message %s", mb->path, uid);
		return MAILBOX_MSG_BAD;
	}
	p = memchr(mb->data + m->start, '\n', m->end - m->start); /* skip the From line */
	p = p != NULL ? p + 1 : mb->data + m->end;
	end = mb->data + m->end;
	out = g_string_sized_new(end - p);
	for (; p < end; p = nl + 1) {
		const char *q = p;
		nl = memchr(p, '\n', end - p);
		if (nl == NULL)
			nl = end - 1;
		while (q < nl && *q == '>')
			q++;
		/* mboxrd: ">From " loses one '>' */
		if (q > p && nl - q >= 5 && memcmp(q, "From ", 5) == 0)
			p++;
		g_string_append_len(out, p, nl + 1 - p);
	}
	/* the empty line before the next From line belongs to the mbox */
	if (m->end < mb->len && out->len > 0 && out->str[out->len - 1] == '\n')
		g_string_truncate(out, out->len - 1);
	*len_r = out->len;
	*data_r = g_string_free(out, FALSE);
	return MAILBOX_OK;
}

static int mbox_ack(struct mailbox *box, const char *uid, char **error_r)
{
	struct mbox *mb = (struct mbox *)box;
	struct mbox_msg *m = find(mb, uid);

	if (m != NULL)
		m->acked = true;
	return 0;
}

static int mbox_flush(struct mailbox *box, char **error_r)
{
	struct mbox *mb = (struct mbox *)box;
	GString *keep = g_string_new(NULL);
	char *tail = NULL, *all = NULL;
	size_t all_len;
	int fd = -1, ret = -1;

	for (guint i = 0; i < mb->msgs->len; i++) {
		struct mbox_msg *m = &g_array_index(mb->msgs, struct mbox_msg, i);
		if (!m->acked)
			g_string_append_len(keep, mb->data + m->start, m->end - m->start);
	}
	/* We hold the locks, but a careless writer may have appended: keep
	 * whatever is past what we read. */
	if (file_read_all(mb->path, 0, &all, &all_len, error_r) < 0)
		goto out;
	if (all_len > mb->len)
		g_string_append_len(keep, all + mb->len, all_len - mb->len);

	fd = open(mb->keep_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, keep->str, keep->len, error_r, mb->keep_path) < 0 ||
	    fsync(fd) < 0) {
		if (fd < 0 || error_r == NULL || *error_r == NULL)
			error_set(error_r, "%s: %s", mb->keep_path, strerror(errno));
		goto out;
	}
	if (overwrite(mb->fd, keep->str, keep->len, mb->path, error_r) < 0)
		goto out;
	unlink(mb->keep_path);
	/* What is in the file now is what we hold in memory. */
	g_free(mb->data);
	mb->len = keep->len;
	mb->data = g_string_free(keep, FALSE);
	keep = NULL;
	for (guint i = 0; i < mb->msgs->len; i++)
		g_free(g_array_index(mb->msgs, struct mbox_msg, i).uid);
	g_array_set_size(mb->msgs, 0);
	split(mb);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (keep != NULL)
		g_string_free(keep, TRUE);
	g_free(tail);
	g_free(all);
	return ret;
}

static void mbox_close(struct mailbox **box)
{
	struct mbox *mb = (struct mbox *)*box;

	if (mb->fd >= 0)
		close(mb->fd); /* releases the fcntl lock */
	if (mb->dotlocked)
		unlink(mb->lock_path);
	for (guint i = 0; i < mb->msgs->len; i++)
		g_free(g_array_index(mb->msgs, struct mbox_msg, i).uid);
	g_array_free(mb->msgs, TRUE);
	g_free(mb->data);
	g_free(mb->path);
	g_free(mb->lock_path);
	g_free(mb->keep_path);
	g_free(mb->box.source);
	g_free(mb);
	*box = NULL;
}

const struct mailbox_driver mbox_driver = {
	.scheme = "mbox:",
	.open = mbox_open,
	.list = mbox_list,
	.fetch = mbox_fetch,
	.ack = mbox_ack,
	.flush = mbox_flush,
	.close = mbox_close,
};
