#!/usr/bin/perl
# gen-corpus.pl - the deterministic mail corpus of `make bench` (contrib/bench.sh).
#
#   gen-corpus.pl --count N --out DIR [--seed S] [--ticket-base B] [--first F]
#       N customer messages as files DIR/<name> (names sort in arrival order,
#       Maildir style) and DIR/manifest.tsv, one line per message; with
#       --first, only the first F of those N (a prefix of the same corpus:
#       N sets the size of the customer pool).  Fields of the manifest:
#         idx name message-id kind parent root from queue tag size
#       kind: new | reply (In-Reply-To + References) | refs (References only)
#             | tag (subject tag only, from the requestor) | tag-cc (subject
#             tag only, from a Cc of the ticket) | auto (Auto-Submitted
#             auto-reply from the requestor, subject tag)
#       parent: idx of the message replied to (new: itself); root: idx of the
#       thread's first message, whose ticket every message of the thread must
#       end on.  tag: the ticket number in the subject (0 for none), counted
#       from B (+1 for each new thread; B is the highest ticket id already in
#       the database, 0 for an empty one).  --prefix P (default b) marks
#       the generated addresses and Message-IDs.
#   gen-corpus.pl ... --staff M
#       also M staff mails (issue 16) to the tickets of those customer
#       messages, and DIR/staff.tsv.  Each staff mail is named to sort
#       right after a customer message (<time>.M<idx>S<k>.bench after
#       <time>.M<idx>P4242.bench), so a Maildir read in name order brings
#       it after every message it builds on.  Its writer is proven by an
#       Authentication-Results header of mx.example.com (daemon.authserv_id
#       of the bench config) and it finds its ticket by the subject tag, as
#       a reply to a notification does.  The staff: alice (admin), bob and
#       carol (support), all of queues support and billing, at example.com;
#       a support member writes only to tickets assigned to it.  Kinds:
#       staff-answer (text, some with #priority N first), staff-note (#note)
#       and staff-commands (#assign LOGIN, #pickup, #sticky on or #status
#       on-hold alone).  Their choices come from a stream of their own, so
#       the customer messages are the same bytes with or without --staff.
#       staff.tsv has the manifest's fields (idx counts from 1000001) and
#       three more, from following every ticket through the corpus by the
#       rules of DESIGN §4 and apply-staff.c:
#         events    the events the mail makes, "type:old>new,..." ("-": none)
#         answers   outbox rows it queues for the requestor (1 or 0)
#         notified  notifications of a note (to the assignee, or the
#                   admins but the writer)
#   gen-corpus.pl ... --pgp-home DIR --pgp-recipient FPR
#       the 1 % of the customer messages with an inline PGP block get a real
#       one (issue 18): a short plaintext (a login and password, recovery
#       codes; drawn from the seed like the fake block it replaces) encrypted
#       by `gpg --homedir DIR --batch --trust-model always --armor -e -r FPR`,
#       one gpg run per message.  Everything else stays the same bytes (the
#       same draws are made with or without these options); only the
#       ciphertext differs from run to run.  Without them the block is
#       random base64 that no key opens.  Either way DIR/pgp.tsv lists
#       those messages, one line each:
#         idx name message-id sha256
#       sha256: hex of the plaintext (what secure_parts must hold as part 0
#       of section 1), "-" for a fake block.
#   gen-corpus.pl --big BYTES --out FILE [--seed S]
#       one message with a BYTES-long binary attachment (base64); prints the
#       sha256 (hex) of the decoded attachment.
#
# The same options give the same bytes on every run and machine: one
# seeded drand48 (perl's own, since 5.20) drives every choice, binary
# content comes from SHA-256 in counter mode, and no hash order is used.
# Only core modules.
use strict;
use warnings;
use utf8;
use Encode qw(encode);
use MIME::Base64 qw(encode_base64);
use MIME::QuotedPrint qw(encode_qp);
use Digest::SHA qw(sha256 sha256_hex);
use Getopt::Long;
use IPC::Open2 qw(open2);

my ($count, $out, $seed, $ticket_base, $big, $prefix, $first, $staff) = (1000, undef, 20261123, 0, undef, 'b', undef, 0);
my ($pgp_home, $pgp_recipient);
GetOptions('count=i' => \$count, 'out=s' => \$out, 'seed=i' => \$seed,
	   'ticket-base=i' => \$ticket_base, 'big=s' => \$big, 'prefix=s' => \$prefix, 'first=i' => \$first,
	   'staff=i' => \$staff, 'pgp-home=s' => \$pgp_home, 'pgp-recipient=s' => \$pgp_recipient)
	or die "usage: gen-corpus.pl --count N --out DIR [--seed S] [--ticket-base B] [--first F] [--staff M]\n"
	. "           [--pgp-home DIR --pgp-recipient FPR]\n"
	. "       gen-corpus.pl --big BYTES --out FILE [--seed S]\n";
die "gen-corpus.pl: --out is required\n" unless defined $out;
die "gen-corpus.pl: --pgp-home and --pgp-recipient go together\n"
	if defined $pgp_home != defined $pgp_recipient;
srand($seed);

# ---- deterministic helpers ---------------------------------------------------

sub pick { $_[int(rand(@_))] }
sub chance { rand() < $_[0] }
sub between { my ($lo, $hi) = @_; $lo + int(rand($hi - $lo + 1)) }

my $stream_ctr = 0;
my $stream_key = pack('N', $seed);
sub random_bytes { # SHA-256 counter mode: fast, deterministic, incompressible
	my ($n) = @_;
	my $buf = '';
	while (length($buf) < $n) {
		$buf .= sha256($stream_key . pack('NN', $stream_ctr >> 32, $stream_ctr & 0xffffffff));
		$stream_ctr++;
	}
	return substr($buf, 0, $n);
}

my @b64chars = ('A'..'Z', 'a'..'z', '0'..'9', '+', '/');

# ---- the world: languages, charsets, people ------------------------------------

my %lang = (
	en => {
		charsets => [qw(us-ascii utf-8 utf-8)],
		first => [qw(James Mary Robert Linda Michael Sarah David Karen Thomas Emily)],
		last => [qw(Smith Johnson Brown Taylor Wilson Clarke Walker Wright Hughes Evans)],
		subjects => ['Website down since this morning', 'Cannot log in to the control panel',
			'Invoice %d looks wrong', 'Backup failed again', 'Request for a second mailbox',
			'SSL certificate expires soon', 'Slow database queries on server %d',
			'DNS change for our domain', 'Please cancel contract %d', 'Password reset does not arrive',
			'Question about the new pricing', 'Error 502 on checkout page'],
		sentences => ['Since this morning our website shows an error.',
			'We have not changed anything on our side.',
			'Could you please have a look at it as soon as possible?',
			'The problem started right after your maintenance window.',
			'Our customers are complaining and we are losing orders.',
			'I attached the log file and a screenshot of the message.',
			'Please let me know if you need further information.',
			'The same thing happened last month and was fixed quickly.',
			'We are on the business plan with the extended support option.',
			'It works from the office network but not from home.',
			'I tried clearing the cache and restarting the browser.',
			'Thank you for the quick answer last time.'],
		greet => ['Hello,', 'Hi team,', 'Dear support,', 'Good morning,'],
		bye => ['Best regards', 'Thanks', 'Kind regards', 'Cheers'],
		ooo => "I am out of the office until Monday with limited access to email.\n"
			. "For urgent matters please contact my colleague.",
		ooo_subject => 'Automatic reply',
	},
	de => {
		charsets => [qw(iso-8859-1 iso-8859-1 utf-8 windows-1252)],
		first => ['Jürgen', 'Björn', 'Käthe', 'Günther', 'Sören', 'Jörg', 'Anna', 'Lukas', 'Müge', 'Hans'],
		last => ['Müller', 'Schröder', 'Weiß', 'Größer', 'Köhler', 'Bäcker', 'Schmidt', 'Fuß', 'Krüger', 'Hoffmann'],
		subjects => ['Störung im Rechenzentrum', 'Rechnung %d fehlerhaft', 'Zugang gesperrt – bitte prüfen',
			'Größeres Postfach benötigt', 'Über die Kündigung zum 31.12.', 'Grüße und eine Frage zu Vertrag %d',
			'Webseite lädt sehr langsam', 'Änderung der Bankverbindung'],
		sentences => ['Seit heute früh ist unsere Webseite nicht mehr erreichbar.',
			'Wir haben auf unserer Seite nichts geändert.',
			'Könnten Sie sich das bitte möglichst bald ansehen?',
			'Die Störung begann direkt nach Ihren Wartungsarbeiten.',
			'Unsere Kunden beschweren sich schon über die langen Ladezeiten.',
			'Im Anhang finden Sie die Protokolldatei und einen Screenshot.',
			'Für Rückfragen stehe ich gern zur Verfügung.',
			'Die Rechnung enthält eine Position doppelt, bitte um Prüfung.',
			'Das Menü ist leer, obwohl die Einträge gepflegt sind.',
			'Grüße aus Köln und vielen Dank für Ihre Mühe.'],
		greet => ['Hallo,', 'Sehr geehrte Damen und Herren,', 'Guten Tag,', 'Liebes Support-Team,'],
		bye => ['Mit freundlichen Grüßen', 'Viele Grüße', 'Beste Grüße'],
		ooo => "Ich bin bis einschließlich Freitag nicht im Büro und habe keinen Zugriff auf E-Mails.\n"
			. "In dringenden Fällen wenden Sie sich bitte an meine Kollegin.",
		ooo_subject => 'Abwesenheitsnotiz',
	},
	fr => {
		charsets => [qw(windows-1252 windows-1252 iso-8859-1 utf-8)],
		first => ['François', 'Hélène', 'Jérôme', 'Cécile', 'Benoît', 'Amélie', 'Gaël', 'Zoé'],
		last => ['Lefèvre', 'Dubois', 'Girard', 'Mercier', 'Bérenger', 'Fournier', 'Chevalier', 'Gauthier'],
		subjects => ['Problème d’accès au serveur', 'Facture %d – montant erroné', 'Demande de résiliation',
			'Sauvegarde échouée cette nuit', '« Erreur 500 » sur la boutique', 'Coût de l’option à 9,90 €'],
		sentences => ['Depuis ce matin, notre site affiche une erreur.',
			'Nous n’avons rien modifié de notre côté.',
			'Pourriez-vous regarder cela rapidement ?',
			'Le problème a commencé juste après votre maintenance.',
			'La facture indique 129,00 € au lieu de 99,00 €.',
			'Vous trouverez en pièce jointe le journal et une capture d’écran.',
			'Je reste à votre disposition pour toute question.',
			'« Ça marche depuis le bureau », mais pas depuis l’extérieur…'],
		greet => ['Bonjour,', 'Madame, Monsieur,', 'Bonjour à toute l’équipe,'],
		bye => ['Cordialement', 'Bien à vous', 'Merci d’avance'],
		ooo => "Je suis absent du bureau jusqu’au lundi et je répondrai à votre message dès mon retour.",
		ooo_subject => 'Réponse automatique',
	},
	ru => {
		charsets => [qw(koi8-r koi8-r utf-8)],
		first => ['Иван', 'Ольга', 'Дмитрий', 'Наталья', 'Сергей', 'Екатерина', 'Алексей', 'Мария'],
		last => ['Иванов', 'Смирнова', 'Кузнецов', 'Попова', 'Соколов', 'Лебедева', 'Новиков', 'Морозова'],
		subjects => ['Не работает сайт', 'Ошибка в счёте %d', 'Не могу войти в панель управления',
			'Медленная работа сервера %d', 'Вопрос по тарифу', 'Продление сертификата'],
		sentences => ['С утра наш сайт недоступен.', 'Мы ничего не меняли на своей стороне.',
			'Посмотрите, пожалуйста, как можно скорее.', 'Проблема началась сразу после ваших работ.',
			'Клиенты жалуются, мы теряем заказы.', 'Во вложении журнал и снимок экрана.',
			'Если нужна дополнительная информация, напишите.', 'Спасибо за быстрый ответ в прошлый раз.'],
		greet => ['Здравствуйте!', 'Добрый день,', 'Уважаемая поддержка,'],
		bye => ['С уважением', 'Спасибо', 'Всего доброго'],
		ooo => "Я в отпуске до понедельника и отвечу на ваше письмо после возвращения.",
		ooo_subject => 'Автоответ',
	},
);
my @langs = (('en') x 5, ('de') x 2, 'fr', 'ru'); # weights
my @domains = map { sprintf('%s%d.example', pick(qw(shop mail corp net web cloud)), $_) } 1 .. 60;
my @mailers = ('Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0',
	'Microsoft Outlook 16.0', 'Apple Mail (2.3731.700.6)', 'Roundcube Webmail/1.6.5',
	'Mutt/2.2.9 (2022-11-12)', 'K-9 Mail for Android');

my $n_customers = $count < 40 ? 10 : int($count / 4);
my @customers;
for my $k (1 .. $n_customers) {
	my $l = $langs[int(rand(@langs))];
	my $L = $lang{$l};
	my ($f, $s) = (pick(@{$L->{first}}), pick(@{$L->{last}}));
	my $dom = pick(@domains);
	(my $local = lc("$f.$s")) =~ tr/a-z.//cd;
	$local = "user" if $local eq '.' || $local eq '';
	push @customers, { name => "$f $s", addr => "$local.$prefix$k\@$dom", lang => $l,
		charset => pick(@{$L->{charsets}}), mailer => pick(@mailers), domain => $dom };
}

# ---- encoding ------------------------------------------------------------------

sub is_ascii { $_[0] !~ /[^\x00-\x7f]/ }

# RFC 2047 encoded words for $text, in $charset, B or Q, each <= 75 chars
sub encode_words {
	my ($charset, $text, $how) = @_;
	$charset = 'utf-8' if $charset eq 'us-ascii';
	my $cs = uc($charset) eq 'UTF-8' ? 'UTF-8' : uc($charset);
	my (@words, $chunk);
	my @chars = split //, $text;
	while (@chars) {
		$chunk = '';
		while (@chars) {
			my $try = $chunk . $chars[0];
			my $bytes = encode($charset, $try);
			my $len = $how eq 'B' ? 4 * int((length($bytes) + 2) / 3) : length(q_encode($bytes));
			last if length($cs) + $len + 7 > 75 && $chunk ne '';
			$chunk = $try;
			shift @chars;
		}
		my $bytes = encode($charset, $chunk);
		push @words, $how eq 'B'
			? "=?$cs?B?" . encode_base64($bytes, '') . '?='
			: "=?$cs?Q?" . q_encode($bytes) . '?=';
	}
	return join("\n ", @words);
}
sub q_encode {
	my ($b) = @_;
	$b =~ s/([^A-Za-z0-9!*+\-\/ ])/sprintf('=%02X', ord($1))/ge;
	$b =~ tr/ /_/;
	return $b;
}
sub fit_charset {
	my ($cs, $text) = @_;
	my $copy = $text;
	return $cs if eval { encode($cs eq 'us-ascii' ? 'ascii' : $cs, $copy, Encode::FB_CROAK); 1 };
	return 'utf-8';
}
sub header_text { # an unstructured header value: plain when ASCII
	my ($charset, $text) = @_;
	return $text if is_ascii($text);
	return encode_words($charset, $text, chance(0.5) ? 'B' : 'Q');
}
sub mailbox { # display name + address
	my ($c) = @_;
	my $n = $c->{name};
	return "$n <$c->{addr}>" if is_ascii($n) && chance(0.5);
	return "\"$n\" <$c->{addr}>" if is_ascii($n);
	return encode_words(fit_charset($c->{charset}, $n), $n, chance(0.6) ? 'Q' : 'B') . " <$c->{addr}>";
}

my @wday = qw(Sun Mon Tue Wed Thu Fri Sat);
my @mon = qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec);
my $t0 = 1764000000; # 2025-11-24
sub rfc_date {
	my ($t) = @_;
	my @g = gmtime($t);
	return sprintf('%s, %02d %s %04d %02d:%02d:%02d +0000', $wday[$g[6]], $g[3], $mon[$g[4]],
		$g[5] + 1900, $g[2], $g[1], $g[0]);
}

# A text part: charset, transfer encoding, the body lines
sub text_part {
	my ($ctype, $charset, $text) = @_;
	my $bytes = encode($charset eq 'us-ascii' ? 'ascii' : $charset, $text);
	my ($cte, $body);
	if ($charset eq 'us-ascii') {
		($cte, $body) = ('7bit', $bytes);
	} else {
		my $r = rand();
		if ($charset eq 'utf-8') {
			$cte = $r < 0.45 ? 'quoted-printable' : $r < 0.8 ? 'base64' : '8bit';
		} elsif ($charset eq 'koi8-r') {
			$cte = $r < 0.5 ? '8bit' : 'base64';
		} else {
			$cte = $r < 0.6 ? 'quoted-printable' : '8bit';
		}
		$body = $cte eq 'quoted-printable' ? encode_qp($bytes)
			: $cte eq 'base64' ? encode_base64($bytes) : $bytes;
	}
	$body .= "\n" unless $body =~ /\n\z/;
	my $cs = $charset eq 'windows-1252' ? 'windows-1252' : $charset;
	return "Content-Type: $ctype; charset=\"$cs\"\nContent-Transfer-Encoding: $cte\n\n$body";
}

sub html_of {
	my ($text) = @_;
	my $h = $text;
	$h =~ s/&/&amp;/g; $h =~ s/</&lt;/g; $h =~ s/>/&gt;/g;
	my @paras = split /\n\n/, $h;
	return "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html\"></head><body>\n"
		. join("\n", map { (my $p = $_) =~ s/\n/<br>\n/g; "<p>$p</p>" } @paras)
		. "\n</body></html>\n";
}

# An inline PGP block and the sha256 (hex) of its plaintext ("-" for a
# fake one).  The draws are the same either way, so that the rest of the
# corpus does not depend on --pgp-home.
sub pgp_block {
	my ($i) = @_;
	my $bytes = random_bytes(between(300, 2500));
	my $crc = random_bytes(3);
	if (!defined $pgp_home) {
		my $b64 = encode_base64($bytes, '');
		$b64 =~ s/(.{64})/$1\n/g;
		return ("-----BEGIN PGP MESSAGE-----\n\n$b64\n=" . substr(encode_base64($crc, ''), 0, 4)
			. "\n-----END PGP MESSAGE-----\n", '-');
	}
	# what a customer would encrypt: a login, its password, recovery codes
	(my $pw = encode_base64(substr($bytes, 0, 12), '')) =~ tr{+/}{-_};
	my $plain = "Here is the login you asked for, please keep it safe:\n\n"
		. "user: admin$i\npassword: $pw\n\nRecovery codes:\n";
	for my $k (0 .. int(length($bytes) / 100) - 1) {
		my $h = unpack('H12', substr($bytes, 12 + 6 * $k, 6));
		$plain .= join('-', unpack('(A4)*', $h)) . "\n";
	}
	my @cmd = ('gpg', '--homedir', $pgp_home, '--batch', '--quiet', '--no-tty', '--trust-model', 'always',
		'--armor', '--encrypt', '--recipient', $pgp_recipient);
	my $pid = open2(my $from, my $to, @cmd);
	binmode($to);
	binmode($from);
	print $to $plain;
	close($to);
	my $armor = do { local $/; <$from> } // '';
	close($from);
	waitpid($pid, 0);
	die "gen-corpus.pl: gpg --encrypt for message $i failed (exit " . ($? >> 8) . ")\n"
		if $? != 0 || $armor !~ /^-----BEGIN PGP MESSAGE-----\n.*\n-----END PGP MESSAGE-----\n\z/s;
	return ($armor, sha256_hex($plain));
}

sub log_text {
	my ($size) = @_;
	my @lvl = qw(INFO INFO INFO WARN ERROR DEBUG);
	my @what = ('connection reset by peer', 'upstream timed out (110: Connection timed out)',
		'GET /checkout HTTP/1.1 502', 'worker process exited on signal 9',
		'could not obtain lock on relation "orders"', 'certificate verify failed',
		'disk usage at 93%', 'request took 4211 ms', 'session expired for user');
	my ($s, $t) = ('', $t0 - 86400);
	while (length($s) < $size) {
		$t += between(0, 5);
		$s .= sprintf("%s [%s] pid=%d %s\n", rfc_date($t), pick(@lvl), between(1000, 65000), pick(@what));
	}
	return $s;
}

sub attachment {
	my ($lang) = @_;
	my $size = between(20 * 1024, 200 * 1024);
	my $r = rand();
	my ($type, $name, $data);
	if ($r < 0.35) {
		($type, $name) = ('application/pdf', sprintf('invoice-%d.pdf', between(1000, 9999)));
		$data = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" . random_bytes($size);
	} elsif ($r < 0.6) {
		($type, $name) = ('image/png', 'screenshot.png');
		$data = "\x89PNG\r\n\x1a\n" . random_bytes($size);
	} elsif ($r < 0.8) {
		($type, $name) = ('text/plain', 'server.log');
		$data = log_text($size);
	} else {
		($type, $name) = ('application/zip', 'logs.zip');
		$data = "PK\x03\x04" . random_bytes($size);
	}
	my $disp;
	if ($lang ne 'en' && chance(0.5)) {
		my $uname = $lang eq 'de' ? 'Übersicht_März' : $lang eq 'fr' ? 'Récapitulatif_été' : 'Отчёт';
		$name =~ s/^[^.]+/$uname/;
		my $enc = encode('utf-8', $name);
		$enc =~ s/([^A-Za-z0-9._-])/sprintf('%%%02X', ord($1))/ge;
		$disp = chance(0.5)
			? "attachment; filename*=UTF-8''$enc"
			: 'attachment; filename="' . encode_words('utf-8', $name, 'B') . '"';
	} else {
		$disp = "attachment; filename=\"$name\"";
	}
	my $tname = $disp =~ /filename\*=/ ? '' : "; name=\"$name\"";
	$tname = '' if $tname =~ /[^\x00-\x7f]/;
	return "Content-Type: $type$tname\nContent-Disposition: $disp\n"
		. "Content-Transfer-Encoding: base64\n\n" . encode_base64($data);
}

my $boundary_n = 0;
sub boundary { sprintf('----=_Part_%d_%08x.%d', ++$boundary_n, int(rand(2**32)), 1764000000 + $boundary_n) }

# The body (text) of a message in its language
sub compose_text {
	my ($L, $sender, $quote) = @_;
	my @p = (pick(@{$L->{greet}}));
	my $np = between(1, 4);
	for (1 .. $np) {
		push @p, join(' ', map { pick(@{$L->{sentences}}) } 1 .. between(1, 4));
	}
	my $text = join("\n\n", @p) . "\n\n" . pick(@{$L->{bye}}) . "\n" . $sender->{name} . "\n";
	if (defined $quote) {
		my @q = split /\n/, $quote;
		splice(@q, 12) if @q > 12;
		$text .= "\n" . join("\n", map { "> $_" } @q) . "\n";
	}
	if (chance(0.3)) {
		$text .= "\n-- \n$sender->{name}\n" . ucfirst((split /\./, $sender->{domain})[0])
			. " GmbH & Co. KG\nTel. +49 221 " . between(1000000, 9999999) . "\n";
	}
	return $text;
}

# ---- big mode ------------------------------------------------------------------

if (defined $big) {
	my $bytes = $big =~ /^(\d+)([kKmM]?)$/ ? $1 * ({ '' => 1, k => 1024, K => 1024, m => 1048576, M => 1048576 }->{$2})
		: die "gen-corpus.pl: --big: not a size: $big\n";
	open(my $fh, '>:raw', $out) or die "gen-corpus.pl: $out: $!\n";
	my $b = boundary();
	print $fh "From: Big Sender <big.sender\@shop1.example>\nTo: support\@example.com\n"
		. "Subject: Full database dump attached\nDate: " . rfc_date($t0) . "\n"
		. "Message-ID: <big.$seed.$bytes\@shop1.example>\nMIME-Version: 1.0\n"
		. "Content-Type: multipart/mixed; boundary=\"$b\"\n\n--$b\n"
		. "Content-Type: text/plain; charset=utf-8\n\nHello, the dump you asked for is attached.\n\n--$b\n"
		. "Content-Type: application/octet-stream; name=\"dump.bin\"\n"
		. "Content-Disposition: attachment; filename=\"dump.bin\"\nContent-Transfer-Encoding: base64\n\n";
	my $sha = Digest::SHA->new(256);
	my $left = $bytes;
	while ($left > 0) {
		my $n = $left > 57 * 8192 ? 57 * 8192 : $left;
		my $chunk = random_bytes($n);
		$sha->add($chunk);
		print $fh encode_base64($chunk);
		$left -= $n;
	}
	print $fh "\n--$b--\n";
	close($fh) or die "gen-corpus.pl: $out: $!\n";
	print $sha->hexdigest, "\n";
	exit 0;
}

# ---- the corpus --------------------------------------------------------------------

mkdir $out unless -d $out;
open(my $man, '>:raw', "$out/manifest.tsv") or die "gen-corpus.pl: $out/manifest.tsv: $!\n";
open(my $pman, '>:raw', "$out/pgp.tsv") or die "gen-corpus.pl: $out/pgp.tsv: $!\n";
my @threads;   # { root, ticket, requestor, cc[], subject, lang, msgs[] }
my @msgs;      # { id, text }
my $tickets = 0;
my %kinds;
my @seq;       # per customer message: { kind, th }, for the staff mails

for my $i (1 .. ($first // $count)) {
	my $t = $t0 + $i * 7;
	my $r = rand();
	my $kind = @threads < 5 || $r < 0.55 ? 'new'
		: $r < 0.77 ? 'reply' : $r < 0.80 ? 'refs' : $r < 0.92 ? 'tag' : $r < 0.95 ? 'tag-cc' : 'auto';
	my ($th, $sender, $parent);
	if ($kind eq 'new') {
		my $c = $customers[int(rand(@customers))];
		my $L = $lang{$c->{lang}};
		(my $subj = pick(@{$L->{subjects}})) =~ s{%d}{between(100, 99999)}e;
		my @cc;
		if (chance(0.15)) {
			for (1 .. between(1, 2)) {
				my $k = $customers[int(rand(@customers))];
				push @cc, { %$k, domain => $c->{domain}, addr => "colleague" . between(1, 9999) . ".$prefix$i\@$c->{domain}" };
			}
		}
		$th = { root => $i, ticket => $ticket_base + ++$tickets, requestor => $c, cc => \@cc,
			subject => $subj, lang => $c->{lang}, msgs => [],
			queue => chance(0.8) ? 'support' : 'billing' };
		push @threads, $th;
		$sender = $c;
		$parent = $i;
	} else {
		# mostly recent threads, some old ones
		my $span = @threads < 300 ? scalar(@threads) : 300;
		$th = chance(0.85) ? $threads[@threads - 1 - int(rand($span))] : $threads[int(rand(@threads))];
		$kind = 'tag' if $kind eq 'tag-cc' && !@{$th->{cc}};
		$sender = $kind eq 'tag-cc' ? $th->{cc}[0] : $th->{requestor};
		$parent = $th->{msgs}[-1];
	}
	my $L = $lang{$th->{lang}};
	my $cs = $sender->{charset};
	$cs = pick(@{$L->{charsets}}) if $cs eq 'us-ascii' && $th->{lang} ne 'en';
	$cs = pick(@{$L->{charsets}}) if $sender->{lang} ne $th->{lang};
	my $msgid = sprintf('%d.%s%d.%s@%s', $t, $prefix, $i, sprintf('%08x', int(rand(2**32))),
		(split /@/, $sender->{addr})[1]);
	my $qaddr = $th->{queue} eq 'support' ? 'support@example.com' : 'billing@example.com';

	my ($subject, @extra);
	my $text;
	if ($kind eq 'new') {
		$subject = $th->{subject};
		$text = compose_text($L, $sender);
	} elsif ($kind eq 'auto') {
		$subject = "$L->{ooo_subject}: [Ticket#$th->{ticket}] $th->{subject}";
		push @extra, 'Auto-Submitted: auto-replied';
		push @extra, 'X-Autoreply: yes' if chance(0.3);
		push @extra, 'X-Auto-Response-Suppress: All' if chance(0.5);
		$text = "$L->{ooo}\n\n$sender->{name}\n";
	} else {
		my $re = $th->{lang} eq 'de' && chance(0.5) ? 'AW' : 'Re';
		$subject = $kind =~ /^tag/ ? "$re: [Ticket#$th->{ticket}] $th->{subject}" : "$re: $th->{subject}";
		$text = compose_text($L, $sender, $msgs[$parent]{text});
	}
	if ($kind eq 'reply' || $kind eq 'refs') {
		my @refs = map { "<$msgs[$_]{id}>" } @{$th->{msgs}};
		splice(@refs, 0, @refs - 10) if @refs > 10;
		push @extra, "In-Reply-To: <$msgs[$parent]{id}>" if $kind eq 'reply';
		push @extra, 'References: ' . join("\n ", @refs);
	} elsif (($kind eq 'tag' || $kind eq 'auto') && chance(0.5)) {
		# a reply to our auto-response: its Message-ID is ours, unknown here
		my $ours = sprintf('<ticket.%d.%s@example.com>', $th->{ticket}, unpack('H16', random_bytes(8)));
		push @extra, "In-Reply-To: $ours", "References: $ours";
	}

	# a charset that can hold it all, as a mail program would choose
	$cs = fit_charset($cs, $text . $subject . $sender->{name});

	# the MIME structure
	my $pgp = chance(0.01);
	my $pgp_sha;
	if ($pgp) {
		(my $block, $pgp_sha) = pgp_block($i);
		$text .= "\n" . $block;
	}
	my $with_att = $kind ne 'auto' && chance(0.10);
	my $alt = !$pgp && chance($kind eq 'auto' ? 0.2 : 0.35);
	my $body_part = $alt
		? do {
			my $b = boundary();
			"Content-Type: multipart/alternative; boundary=\"$b\"\n\n--$b\n"
				. text_part('text/plain', $cs, $text) . "\n--$b\n"
				. text_part('text/html', $cs, html_of($text)) . "\n--$b--\n";
		}
		: text_part('text/plain', $cs, $text);
	my $mime;
	if ($with_att) {
		my $b = boundary();
		$mime = "Content-Type: multipart/mixed; boundary=\"$b\"\n\nThis is a multi-part message in MIME format.\n\n--$b\n"
			. $body_part . "\n--$b\n" . attachment($th->{lang}) . "\n--$b--\n";
	} else {
		$mime = $body_part;
	}

	my @cc = $kind eq 'new' ? @{$th->{cc}} : ();
	my $host = (split /@/, $sender->{addr})[1];
	my $hdr = "Return-Path: <$sender->{addr}>\n"
		. "Received: from mx.$host (mx.$host [192.0.2." . between(1, 254) . "])\n"
		. "\tby mx.example.com (Postfix) with ESMTPS id " . uc(unpack('H10', random_bytes(5))) . "\n"
		. "\tfor <$qaddr>; " . rfc_date($t) . "\n"
		. "Received: from [10.0." . between(0, 255) . '.' . between(1, 254) . "] by mx.$host\n"
		. "\twith ESMTPSA; " . rfc_date($t - 2) . "\n"
		. 'Date: ' . rfc_date($t - 3) . "\n"
		. 'From: ' . mailbox($sender) . "\n"
		. 'To: ' . ($th->{queue} eq 'support' && chance(0.3) ? "Support Team <$qaddr>" : $qaddr) . "\n"
		. (@cc ? 'Cc: ' . join(",\n ", map { mailbox($_) } @cc) . "\n" : '')
		. 'Subject: ' . header_text($cs, $subject) . "\n"
		. "Message-ID: <$msgid>\n"
		. join('', map { "$_\n" } @extra)
		. "MIME-Version: 1.0\n"
		. ($kind eq 'auto' ? '' : "User-Agent: $sender->{mailer}\n")
		. "Content-Language: " . { en => 'en-US', de => 'de-DE', fr => 'fr-FR', ru => 'ru-RU' }->{$th->{lang}} . "\n";
	my $raw = $hdr . $mime;

	my $name = sprintf('%d.M%06dP4242.bench', 1700000000 + $i, $i);
	open(my $fh, '>:raw', "$out/$name") or die "gen-corpus.pl: $out/$name: $!\n";
	print $fh $raw;
	close($fh) or die "gen-corpus.pl: $out/$name: $!\n";

	$msgs[$i] = { id => $msgid, text => $text };
	push @{$th->{msgs}}, $i;
	push @seq, { kind => $kind, th => $th };
	$kinds{$kind}++;
	$kinds{attachment}++ if $with_att;
	$kinds{alternative}++ if $alt;
	$kinds{pgp}++ if $pgp;
	print $pman join("\t", $i, $name, $msgid, $pgp_sha), "\n" if $pgp;
	$kinds{"charset $cs"}++;
	print $man join("\t", $i, $name, $msgid, $kind, $parent, $th->{root}, $sender->{addr},
		$th->{queue}, $kind =~ /^(tag|tag-cc|auto)$/ ? $th->{ticket} : 0, length($raw)), "\n";
}
close($man) or die "gen-corpus.pl: manifest: $!\n";
close($pman) or die "gen-corpus.pl: pgp.tsv: $!\n";
print STDERR "gen-corpus.pl: " . ($first // $count) . " messages in $out (" . join(', ', map { "$_ $kinds{$_}" } sort keys %kinds) . ")\n";

# ---- staff mails (--staff) -------------------------------------------------------------

exit 0 unless $staff > 0;
# a stream of their own: the customer messages above stay the same bytes
srand($seed + 16);
my $nseq = scalar(@seq);
die "gen-corpus.pl: --staff needs at least 10 customer messages\n" if $nseq < 10;
my %staff = (
	alice => { name => 'Alice Woods', admin => 1, sig => "Alice Woods\nExample Hosting support" },
	bob => { name => 'Bob Stone', admin => 0, sig => "Bob Stone\nExample Hosting" },
	carol => { name => 'Carol Diaz', admin => 0, sig => "Carol Diaz\nExample Hosting" },
);
my @support = qw(bob carol);
my @answer_lines = ('Thank you for your message.', 'We have looked into it.',
	'The service was restarted and works again.', 'Please try again and tell us whether it works now.',
	'The invoice has been corrected; you will receive a new one by mail.',
	'Your request has been forwarded to the responsible team.',
	'We need the exact time of the error to find it in our logs.',
	'The certificate has been renewed and is valid for another year.');
my @answer_de = ('Vielen Dank für Ihre Nachricht.', 'Wir haben die Störung behoben.',
	'Bitte prüfen Sie, ob es jetzt wieder funktioniert.', 'Die Rechnung wurde korrigiert.');
my @note_lines = ('Customer called twice about this.', 'Probably the same cause as last week.',
	'Waiting for the data centre to confirm.', 'Do not close before the invoice is corrected.',
	'Checked the logs: nothing on our side yet.', 'Escalated to the network team.');

# a ticket's state, followed through the corpus as ticketd keeps it
my %state; # ticket -> { status, assignee, sticky, priority }
sub customer_followup { # ticket_followup_state() in lib/ticket.c
	my ($s) = @_;
	if (defined $s->{assignee} && $s->{sticky}) {
		$s->{status} = 'assigned' unless $s->{status} eq 'on-hold';
	} elsif (defined $s->{assignee}) {
		($s->{assignee}, $s->{status}) = (undef, 'reopened');
	} elsif ($s->{status} =~ /^(resolved|closed|answered)$/) {
		$s->{status} = 'reopened';
	}
}

# where the staff mails go: after which customer message (sorted)
my @at = sort { $a <=> $b } map { between(5, $nseq) } 1 .. $staff;
open(my $sman, '>:raw', "$out/staff.tsv") or die "gen-corpus.pl: $out/staff.tsv: $!\n";
my ($k, $p, @open) = (0, 0);
my %skinds;
for my $pos (@at) {
	# the customer messages up to $pos, applied to the states
	while ($p < $pos) {
		my $c = $seq[$p++];
		my $th = $c->{th};
		if ($c->{kind} eq 'new') {
			$state{$th->{ticket}} = { status => 'new', assignee => undef, sticky => 0,
				priority => $th->{queue} eq 'billing' ? 60 : 50 };
			push @open, $th;
		} elsif ($c->{kind} ne 'auto') {
			customer_followup($state{$th->{ticket}});
		}
	}
	$k++;
	# mostly recent tickets; some that a support member holds, for it to work on
	my @held = grep { my $a = $state{$_->{ticket}}{assignee}; defined $a && $a ne 'alice' } @open;
	my $th = @held && chance(0.3) ? $held[int(rand(@held))]
		: chance(0.7) ? $open[@open - 1 - int(rand(@open < 50 ? @open : 50))] : $open[int(rand(@open))];
	my $s = $state{$th->{ticket}};
	# a support member writes to its own tickets only (may_act)
	my $who = defined $s->{assignee} && $s->{assignee} ne 'alice' && chance(0.8) ? $s->{assignee} : 'alice';
	my $W = $staff{$who};
	my (@cmds, $text, $kind);
	my $r = rand();
	if ($r < 0.5) {
		$kind = 'staff-answer';
		push @cmds, '#priority ' . pick(grep { $_ != $s->{priority} } 20, 30, 40, 70, 80, 90) if chance(0.3);
		my @l = $th->{lang} eq 'de' ? @answer_de : @answer_lines;
		$text = ($th->{lang} eq 'de' ? 'Guten Tag,' : 'Hello,') . "\n\n"
			. join(' ', map { pick(@l) } 1 .. between(1, 4)) . "\n\n$W->{sig}\n";
	} elsif ($r < 0.7) {
		$kind = 'staff-note';
		push @cmds, '#note';
		$text = join(' ', map { pick(@note_lines) } 1 .. between(1, 3)) . "\n";
	} else {
		$kind = 'staff-commands';
		my @can = ('#pickup', '#sticky on', '#status on-hold');
		push @can, map { "#assign $_" } grep { !defined $s->{assignee} || $_ ne $s->{assignee} } @support
			if $W->{admin};
		push @cmds, pick(@can);
		if ($cmds[0] =~ /^#assign/) {
			push @cmds, '#sticky on' if chance(0.5);
		} elsif (chance(0.2)) {
			push @cmds, pick(grep { $_ ne $cmds[0] && $_ !~ /^#assign/ } @can);
		}
		$text = '';
	}
	# what ticketd makes of it (apply_staff_store in lib/apply-staff.c)
	my %n = %$s;
	my $status_given = 0;
	for my $c (@cmds) {
		if ($c =~ /^#assign (\w+)$/ || $c eq '#pickup') {
			$n{assignee} = $c eq '#pickup' ? $who : (split / /, $c)[1];
			$n{status} = 'assigned' if $n{status} =~ /^(new|reopened)$/;
		} elsif ($c =~ /^#priority (\d+)$/) {
			$n{priority} = $1;
		} elsif ($c =~ /^#status (\S+)$/) {
			($n{status}, $status_given) = ($1, 1);
		} elsif ($c eq '#sticky on') {
			$n{sticky} = 1;
		}
	}
	if ($kind eq 'staff-answer') {
		$n{status} = 'answered' unless $status_given;
		$n{assignee} //= $who;
	}
	my @ev;
	push @ev, "status:$s->{status}>$n{status}" if $n{status} ne $s->{status};
	push @ev, 'assign:' . ($s->{assignee} // '') . ">$n{assignee}"
		if ($n{assignee} // '') ne ($s->{assignee} // '');
	push @ev, "priority:$s->{priority}>$n{priority}" if $n{priority} != $s->{priority};
	push @ev, 'sticky:off>on' if $n{sticky} && !$s->{sticky};
	push @ev, "answer:>$who" if $kind eq 'staff-answer';
	push @ev, "note:>$who" if $kind eq 'staff-note';
	# a note tells the assignee, or (nobody's ticket) the admins, never the writer
	my $notified = $kind ne 'staff-note' ? 0
		: defined $s->{assignee} ? ($s->{assignee} ne $who ? 1 : 0)
		: $who ne 'alice' ? 1 : 0;
	%$s = %n;

	# the mail: a reply to the notification, its quote below the separator
	my $parent = (grep { $_ <= $pos } @{$th->{msgs}})[-1];
	my $t = $t0 + $pos * 7 + 3;
	my $msgid = sprintf('%d.staff%d.%08x@example.com', $t, $k, int(rand(2**32)));
	my $qaddr = $th->{queue} eq 'support' ? 'support@example.com' : 'billing@example.com';
	my @q = grep { $_ ne '' } split /\n/, $msgs[$parent]{text};
	splice(@q, 6) if @q > 6;
	my $body = join('', map { "$_\n" } @cmds) . ($text ne '' ? "\n$text" : '')
		. "\nOn " . rfc_date($t - 60) . ", $th->{queue} <$qaddr> wrote:\n"
		. "> -- Write your reply above this line (commands at the top) --\n>\n"
		. "> Ticket [Ticket#$th->{ticket}] in queue $th->{queue}\n>\n"
		. join('', map { "> $_\n" } @q);
	my $subject = "Re: [Ticket#$th->{ticket}] $th->{subject}";
	my $qp = $body =~ /[^\x00-\x7f]/ && chance(0.7);
	my $bytes = encode('utf-8', $body);
	my $raw = "Return-Path: <$who\@example.com>\n"
		. "Received: from office.example.com (office.example.com [198.51.100." . between(1, 254) . "])\n"
		. "\tby mx.example.com (Postfix) with ESMTPSA id " . uc(unpack('H10', random_bytes(5))) . "\n"
		. "\tfor <$qaddr>; " . rfc_date($t) . "\n"
		. "Authentication-Results: mx.example.com;\n\tdkim=pass header.d=example.com header.s=mail;\n"
		. "\tspf=pass smtp.mailfrom=$who\@example.com\n"
		. 'Date: ' . rfc_date($t - 2) . "\n"
		. "From: $W->{name} <$who\@example.com>\n"
		. "To: $qaddr\n"
		. 'Subject: ' . header_text('utf-8', $subject) . "\n"
		. "Message-ID: <$msgid>\n"
		. (chance(0.5) ? sprintf("In-Reply-To: <ticket.%d.%s\@example.com>\n", $th->{ticket},
			unpack('H16', random_bytes(8))) : '')
		. "MIME-Version: 1.0\nUser-Agent: " . pick(@mailers) . "\n"
		. "Content-Type: text/plain; charset=utf-8\n"
		. 'Content-Transfer-Encoding: ' . ($qp ? "quoted-printable\n\n" . encode_qp($bytes) : "8bit\n\n$bytes");
	my $name = sprintf('%d.M%06dS%05d.bench', 1700000000 + $pos, $pos, $k);
	open(my $fh, '>:raw', "$out/$name") or die "gen-corpus.pl: $out/$name: $!\n";
	print $fh $raw;
	close($fh) or die "gen-corpus.pl: $out/$name: $!\n";
	$skinds{$kind}++;
	print $sman join("\t", 1000000 + $k, $name, $msgid, $kind, $parent, $th->{root}, "$who\@example.com",
		$th->{queue}, $th->{ticket}, length($raw), @ev ? join(',', @ev) : '-',
		$kind eq 'staff-answer' ? 1 : 0, $notified), "\n";
}
close($sman) or die "gen-corpus.pl: staff.tsv: $!\n";
print STDERR "gen-corpus.pl: $staff staff mails in $out (" . join(', ', map { "$_ $skinds{$_}" } sort keys %skinds) . ")\n";
