/* test-thread.c - the threading rules of DESIGN §3 and the subject tag. */
#include "tap.h"
#include "thread.h"
#include "util.h"

static void test_decide(void)
{
	long long id = -1;
	struct thread_facts f = { 0 };

	is_int(thread_decide(&f, &id), THREAD_NEW, "no facts: a new ticket");
	is_int(id, 0, "new ticket has no id");

	f = (struct thread_facts){ .ref_ticket = 7 };
	is_int(thread_decide(&f, &id), THREAD_BY_REFERENCE, "a reference threads");
	is_int(id, 7, "to the referenced ticket");

	f = (struct thread_facts){ .ref_ticket = 7,
				   .tag_ticket = 9,
				   .sender_is_participant = true };
	is_int(thread_decide(&f, &id), THREAD_BY_REFERENCE, "a reference wins over the tag");
	is_int(id, 7, "the reference's ticket");

	f = (struct thread_facts){ .tag_ticket = 9, .sender_is_participant = true };
	is_int(thread_decide(&f, &id), THREAD_BY_TAG, "the tag from a participant threads");
	is_int(id, 9, "to the tagged ticket");

	f = (struct thread_facts){ .tag_ticket = 9, .sender_is_participant = false };
	is_int(thread_decide(&f, &id), THREAD_NEW, "a stranger with a tag gets a new ticket");
	is_int(id, 0, "and not the tagged one");
}

static void test_tag(void)
{
	is_int(thread_subject_tag("[Ticket#42] Printer", "Ticket"), 42, "plain tag");
	is_int(thread_subject_tag("Re: AW: [ticket#42] Printer", "Ticket"), 42,
	       "tag after prefixes, any case");
	is_int(thread_subject_tag("[Ticket # 42 ] x", "Ticket"), 42, "spaces inside the tag");
	is_int(thread_subject_tag("[Ticket#] x", "Ticket"), 0, "no number");
	is_int(thread_subject_tag("[Ticket#12a] x", "Ticket"), 0, "junk after the number");
	is_int(thread_subject_tag("[Other#5] x", "Ticket"), 0, "another system's tag");
	is_int(thread_subject_tag("[x] [Ticket#5] y", "Ticket"), 5, "second bracket");
	is_int(thread_subject_tag("[Ticket#99999999999999999999]", "Ticket"), 0, "absurd number");
	is_int(thread_subject_tag(NULL, "Ticket"), 0, "no subject");
	is_int(thread_subject_tag("[Help#3] x", "Help"), 3, "configured tag");

	char *s = thread_subject_add_tag("Printer", "Ticket", 42);
	is_str(s, "[Ticket#42] Printer", "tag added");
	g_free(s);
	s = thread_subject_add_tag("Re: [Ticket#42] Printer", "Ticket", 42);
	is_str(s, "Re: [Ticket#42] Printer", "tag not added twice");
	g_free(s);
	s = thread_subject_add_tag("", "Ticket", 3);
	is_str(s, "[Ticket#3] (no subject)", "empty subject");
	g_free(s);
}

int main(void)
{
	test_decide();
	test_tag();
	return tap_done();
}
