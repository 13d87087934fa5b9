/*
 * ticketd - the ticket daemon: polls every queue's mailbox, turns messages
 * into tickets, sends what the outbox holds (DESIGN §2, §5).
 *
 *   ticketd [-c FILE] [-f] [-v] [--once] [--now=TIME]
 *   ticketd -t [-c FILE]          check the config and exit (0 or 78)
 *   ticketd [-c FILE] [-v] deliver [-c FILE] [-v] --queue NAME [--now=TIME] < message
 *                                 one message from an MTA pipe: exit 0 only
 *                                 after COMMIT, 75 (EX_TEMPFAIL) when it
 *                                 cannot be stored now, so the MTA retries
 *
 * Global options (-c, -v, --now) go before or after the verb, as admins
 * write `postfix -c DIR` or `git -C DIR`; deliver's --queue after it.
 *
 * SIGTERM/SIGINT stop after the message in hand, SIGHUP reloads the config
 * (the new one is used only if it is valid).
 */
#include "config.h"
#include "cycle.h"
#include "db.h"
#include "intake.h"
#include "message.h"
#include "pgp.h"
#include "secure.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/ticketd/ticketd.conf"

static volatile sig_atomic_t stop_requested, reload_requested;
static volatile int stop_flag; /* mirrors stop_requested for the library */

static void on_signal(int sig)
{
	if (sig == SIGHUP) {
		reload_requested = 1;
	} else {
		stop_requested = 1;
		stop_flag = 1;
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: ticketd [-c FILE] [-f] [-v] [--once] [--now=TIME]\n"
		     "       ticketd -t [-c FILE]\n"
		     "       ticketd [-c FILE] [-v] deliver --queue NAME [--now=TIME] < message\n");
}

struct options {
	const char *config;
	bool foreground, once, test, verbose;
	time_t fixed_now; /* 0: the clock */
	int deliver;      /* argv index of the verb "deliver", 0 when none */
};

/* Options of either parse, in one table, so that one given where it makes
 * no sense is named as such rather than "unrecognized". */
static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "once", no_argument, NULL, 'o' },
	{ "now", required_argument, NULL, 'n' },
	{ "test", no_argument, NULL, 't' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "queue", required_argument, NULL, 'q' },
	{ NULL, 0, NULL, 0 },
};

/* The options before a verb ('+': getopt stops at the first word), and
 * the verb.  Usage errors exit 64. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	int c;

	memset(opt, 0, sizeof(*opt));
	opt->config = DEFAULT_CONFIG;
	while ((c = getopt_long(argc, argv, "+c:ftvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opt->config = optarg;
			break;
		case 'f':
			opt->foreground = true;
			break;
		case 'o':
			opt->once = true;
			break;
		case 'n':
			if (time_parse_iso(optarg, &opt->fixed_now) < 0) {
				fprintf(stderr, "ticketd: --now: not an ISO 8601 time: %s\n",
					optarg);
				exit(EX_USAGE);
			}
			break;
		case 't':
			opt->test = true;
			break;
		case 'v':
			opt->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(EX_OK);
		case 'q':
			fprintf(stderr, "ticketd: --queue is an option of deliver: "
					"ticketd [-c FILE] deliver --queue NAME\n");
			exit(EX_USAGE);
		default:
			usage(stderr);
			exit(EX_USAGE);
		}
	}
	if (optind < argc && strcmp(argv[optind], "deliver") == 0) {
		opt->deliver = optind;
		if (opt->foreground || opt->once || opt->test) {
			fprintf(stderr, "ticketd: %s makes no sense with deliver\n",
				opt->test   ? "-t"
				: opt->once ? "--once"
					    : "-f");
			usage(stderr);
			exit(EX_USAGE);
		}
		return;
	}
	if (optind < argc) {
		fprintf(stderr, "ticketd: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		exit(EX_USAGE);
	}
}

static struct ticketd_config *load_config(const char *path)
{
	struct ticketd_config *cfg = NULL;
	char *error = NULL;

	if (config_load(path, &cfg, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		g_free(error);
		return NULL;
	}
	return cfg;
}

/* Connects and checks that the schema is current. */
static struct db *connect_db(const struct ticketd_config *cfg, int *exit_code_r)
{
	struct db *db = NULL;
	char *error = NULL;
	int version;

	*exit_code_r = EX_TEMPFAIL;
	if (db_connect(cfg->conninfo, &db, &error) != DB_OK) {
		log_error("%s", error);
		goto out;
	}
	if (db_schema_version(db, &version, &error) != DB_OK) {
		log_error("%s", error);
		db_close(&db);
		goto out;
	}
	if (version < db_schema_latest()) {
		log_error("the database schema is at version %d, this ticketd needs %d: "
			  "run 'ticketctl -c %s db migrate'",
			  version, db_schema_latest(), cfg->path);
		*exit_code_r = EX_CONFIG;
		db_close(&db);
	}
out:
	g_free(error);
	return db;
}

static void drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL || geteuid() != 0)
		return;
	pw = getpwnam(user);
	if (pw == NULL)
		log_fatal(EX_NOUSER, "daemon.user: no such user: %s", user);
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		log_fatal(EX_OSERR, "cannot change to user %s: %s", user, strerror(errno));
}

static void write_pid_file(const char *path)
{
	FILE *f;

	if (path == NULL)
		return;
	f = fopen(path, "w");
	if (f == NULL)
		log_fatal(EX_CANTCREAT, "pid_file %s: %s", path, strerror(errno));
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

static void sleep_interruptible(long seconds)
{
	for (long i = 0; i < seconds * 10 && !stop_requested && !reload_requested; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* Reads all of standard input.  A message over max_message_size is still
 * read whole: it is kept as failed, not cut. */
static int read_stdin(GByteArray **data_r, char **error_r)
{
	GByteArray *buf = g_byte_array_new();
	guint8 chunk[65536];
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set(error_r, "reading the message: %s", strerror(errno));
			g_byte_array_unref(buf);
			return -1;
		}
		if (n == 0)
			break;
		g_byte_array_append(buf, chunk, (guint)n);
	}
	*data_r = buf;
	return 0;
}

/* ticketd deliver: one message from an MTA's pipe(8) or .forward.  Its
 * identity is its content hash, so a message the MTA hands over again
 * after a crash between COMMIT and our exit is not stored twice. */
static int cmd_deliver(int argc, char **argv, const struct options *global)
{
	const char *config_path = global->config, *queue_name = NULL;
	const struct config_queue *queue;
	struct ticketd_config *cfg = NULL;
	GByteArray *data = NULL;
	struct db *db = NULL;
	struct intake in = { 0 };
	char *error = NULL, *source = NULL, *uid = NULL, prog[] = "ticketd deliver";
	time_t now = global->fixed_now;
	bool stored = false, intake_ready = false, verbose = global->verbose;
	int c, code = EX_TEMPFAIL;

	/* argv[0] is the verb; getopt's own messages name it.  optind = 0
	 * makes glibc start afresh after the '+' parse, permuting again. */
	argv[0] = prog;
	optind = 0;
	while ((c = getopt_long(argc, argv, "c:q:vft", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'q':
			queue_name = optarg;
			break;
		case 'n':
			if (time_parse_iso(optarg, &now) < 0) {
				fprintf(stderr, "ticketd: --now: not an ISO 8601 time: %s\n",
					optarg);
				return EX_USAGE;
			}
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'f':
		case 'o':
		case 't':
			fprintf(stderr, "ticketd deliver: %s is not an option of deliver\n",
				c == 'f'   ? "-f"
				: c == 'o' ? "--once"
					   : "-t");
			usage(stderr);
			return EX_USAGE;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (queue_name == NULL) {
		fprintf(stderr, "ticketd deliver: --queue NAME is required\n");
		usage(stderr);
		return EX_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "ticketd deliver: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	log_open("ticketd", isatty(STDERR_FILENO), verbose);
	cfg = load_config(config_path);
	if (cfg == NULL)
		return EX_CONFIG; /* Postfix defers on EX_CONFIG too */
	queue = config_queue_by_name(cfg, queue_name);
	if (queue == NULL) {
		log_error("deliver: no queue named %s in %s", queue_name, config_path);
		code = EX_CONFIG;
		goto out;
	}
	if (read_stdin(&data, &error) < 0) {
		log_error("deliver: %s", error);
		goto out;
	}
	message_init();
	pgp_init(); /* before the senders' threads */
	db = connect_db(cfg, &code);
	if (db == NULL) {
		code = EX_TEMPFAIL; /* the MTA keeps the message and retries */
		goto out;
	}
	if (intake_init(&in, db, cfg, now != 0 ? now : time(NULL), &error) < 0) {
		log_error("deliver: %s", error);
		code = EX_TEMPFAIL;
		goto out;
	}
	intake_ready = true;
	source = g_strconcat("pipe:", queue->name, NULL);
	uid = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data->data, data->len);
	code = EX_TEMPFAIL;
	if (db_begin_savepoint(db, &error) != DB_OK)
		goto fail;
	if (intake_store(&in, source, uid, (const char *)data->data, data->len,
			 (const struct config_queue *const[]){ queue }, 1, &stored,
			 &error) != DB_OK) {
		db_rollback(db);
		goto fail;
	}
	if (!stored) {
		db_rollback(db);
		goto out;
	}
	if (db_commit(db, &error) != DB_OK)
		goto fail;
	code = EX_OK;
	goto out;
fail:
	log_error("deliver: queue=%s: %s", queue->name, error);
out:
	if (intake_ready)
		intake_deinit(&in);
	db_close(&db);
	if (data != NULL)
		g_byte_array_unref(data);
	g_free(source);
	g_free(uid);
	g_free(error);
	config_free(&cfg);
	return code;
}

/* ticketd -t: the PGP key pairs, as the daemon's user (GnuPG run as root
 * in ticketd's home would leave root's sockets and files there). */
static int check_keys(const struct ticketd_config *cfg)
{
	pid_t pid;
	int status;

	if (cfg->gnupg_home == NULL && cfg->pgp_key == NULL && cfg->passphrase_file == NULL) {
		bool any = false;
		for (size_t i = 0; i < cfg->queue_count; i++)
			any = any || cfg->queues[i].pgp_key != NULL;
		if (!any)
			return EX_OK;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "ticketd: fork: %s\n", strerror(errno));
		return EX_OSERR;
	}
	if (pid == 0) {
		struct secure_keys *keys;
		GPtrArray *problems, *notes;

		log_open("ticketd", true, false);
		drop_privileges(cfg->user);
		message_init();
		pgp_init();
		keys = secure_keys_new(cfg);
		problems = secure_check_keys(cfg, keys, &notes);
		for (guint i = 0; i < problems->len; i++)
			fprintf(stderr, "%s: %s\n", cfg->path,
				(char *)g_ptr_array_index(problems, i));
		for (guint i = 0; i < notes->len; i++)
			fprintf(stderr, "%s: note: %s\n", cfg->path,
				(char *)g_ptr_array_index(notes, i));
		g_ptr_array_unref(notes);
		status = problems->len == 0 ? EX_OK : EX_CONFIG;
		g_ptr_array_unref(problems);
		secure_keys_free(&keys);
		fflush(NULL);
		_exit(status);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE;
}

int main(int argc, char **argv)
{
	struct ticketd_config *cfg;
	struct options opt;
	struct sigaction sa;
	struct db *db = NULL;
	struct cycle *cycle = NULL;
	int code = EX_OK;

	parse_options(argc, argv, &opt);
	if (opt.deliver > 0)
		return cmd_deliver(argc - opt.deliver, argv + opt.deliver, &opt);
	if (opt.test) {
		cfg = load_config(opt.config);
		if (cfg == NULL)
			return EX_CONFIG;
		if (check_keys(cfg) != EX_OK) {
			config_free(&cfg);
			return EX_CONFIG;
		}
		printf("%s: configuration is valid (%zu queues, %zu staff)\n", opt.config,
		       cfg->queue_count, cfg->staff_count);
		config_free(&cfg);
		return EX_OK;
	}
	cfg = load_config(opt.config);
	if (cfg == NULL)
		return EX_CONFIG;
	log_open("ticketd", opt.foreground || opt.once, opt.verbose);
	message_init();
	pgp_init(); /* before the senders' threads */
	cycle = cycle_new(&stop_flag);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* transport.h: a dead sendmail is an error, not a signal */

	if (!opt.foreground && !opt.once && daemon(0, 0) < 0)
		log_fatal(EX_OSERR, "daemon: %s", strerror(errno));
	write_pid_file(cfg->pid_file);
	drop_privileges(cfg->user);

	db = connect_db(cfg, &code);
	if (db == NULL && (opt.once || code == EX_CONFIG))
		goto out;
	code = EX_OK;
	log_info("started: %zu queues, poll interval %lds", cfg->queue_count, cfg->poll_interval);
	for (;;) {
		time_t now = opt.fixed_now != 0 ? opt.fixed_now : time(NULL);
		enum cycle_result result;

		if (db == NULL && (db = connect_db(cfg, &code)) == NULL && code == EX_CONFIG)
			break;
		result = db != NULL ? cycle_run(cycle, db, cfg, now) : CYCLE_DB_LOST;
		if (result == CYCLE_DB_LOST && db != NULL) {
			log_warning("database connection lost; reconnecting next cycle");
			db_close(&db);
		}
		if (opt.once && result == CYCLE_DB_LOST)
			code = EX_TEMPFAIL;
		if (opt.once && result == CYCLE_CONFIG_REFUSED)
			code = EX_CONFIG;
		if (opt.once || stop_requested)
			break;
		sleep_interruptible(cfg->poll_interval);
		if (reload_requested) {
			struct ticketd_config *fresh = load_config(opt.config);
			reload_requested = 0;
			if (fresh == NULL) {
				log_error("reload: %s is not valid; keeping the running config",
					  opt.config);
			} else {
				config_free(&cfg);
				cfg = fresh;
				log_info("reloaded %s", opt.config);
			}
		}
		if (stop_requested)
			break;
	}
	if (stop_requested)
		log_info("stopped");
out:
	db_close(&db);
	config_free(&cfg);
	cycle_free(&cycle);
	message_deinit();
	log_close();
	return code;
}
