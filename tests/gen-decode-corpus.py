#!/usr/bin/env python3
"""gen-decode-corpus.py - a deterministic corpus for the decoding test
(tests/integration/32-decode.sh), with a reference decoding made by
Python's email package, independently of ticketd's code.

    gen-decode-corpus.py --out MAILDIR-NEW --expect FILE.json [--count N] [--seed S]

writes N messages into MAILDIR-NEW, and FILE.json: for each Message-ID
(without <>) the subject, the From display name and the body text that
Python's email package decodes from the bytes written (not from the
strings the messages were made of).

The messages: UTF-8, ISO-8859-1, windows-1252, KOI8-R and ISO-2022-JP;
RFC 2047 B and Q words, folded headers with several words and mixed
charsets, base64 words split in the middle of a character and after '='
padding (what broke issue 15), subjects of 200+ characters; base64,
quoted-printable and 8-bit bodies, some multipart/alternative or with an
attachment, some with CRLF line endings.

Normalisation, the same that ticketd does to header values and nothing
more: a header is unfolded (a line break before a blank removed), decoded
by email.header.decode_header + make_header, control characters become
spaces and surrounding whitespace is stripped.  The body text is
email.policy.default's get_content() of the text/plain part; line
endings are compared as they are (\n; ticketd turns CRLF into LF too)
and the checker (32-decode.sh) strips trailing whitespace of each line
and trailing blank lines on both sides, nothing else.
"""
import argparse
import base64
import email
import email.policy
import email.utils
import json
import os
import random
import re
from email.header import decode_header, make_header

TEXTS = {
    "utf-8": [
        "Не могу войти в панель управления",
        "Störung im Rechenzentrum – bitte prüfen",
        "Problème d’accès au serveur «prod»",
        "サーバーに接続できません",
        "Ошибка в счёте №4711, сумма неверна",
        "Zugang gesperrt ✓ – Ticket dringend 🚀",
        "Ελληνικά: δεν λειτουργεί το email",
    ],
    "iso-8859-1": [
        "Störung im Rechenzentrum, bitte prüfen",
        "Problème d'accès au serveur",
        "Facture erronée, montant dû: 120 EUR",
        "Señor Muñoz: ¿dónde está mi pedido?",
        "Grüße aus Köln – schöne Grüße",
    ],
    "windows-1252": [
        "Rechnung über 99 € – „falsch“",
        "Problème d’accès… encore",
        "Œuvre “complète” ‰ ™",
        "Zugang gesperrt – bitte prüfen",
    ],
    "koi8-r": [
        "Не могу войти в панель управления",
        "Не работает сайт",
        "Ошибка в счёте 12345",
        "Продление сертификата",
        "Медленная работа сервера",
    ],
    "iso-2022-jp": [
        "サーバーに接続できません",
        "請求書の金額が間違っています",
        "パスワードを忘れました",
        "メールが届かない件について",
    ],
}
# ISO-8859-1 has no en dash: keep only what it can encode
TEXTS["iso-8859-1"] = [t.replace("–", "-") for t in TEXTS["iso-8859-1"]]

NAMES = {
    "utf-8": ["Jürgen Groß", "Иван Петров", "山田 太郎", "Zoë Ångström", "Łukasz Żółć"],
    "iso-8859-1": ["Jürgen Groß", "François Lefèvre", "Zoë Ångström", "José Núñez"],
    "windows-1252": ["Jürgen Groß", "François “Fanfan” Lefèvre", "Œdipe Dupont"],
    "koi8-r": ["Иван Петров", "Ольга Смирнова", "Сергей Ёлкин"],
    "iso-2022-jp": ["山田 太郎", "佐藤 花子", "鈴木 一郎"],
}
ASCII_NAMES = ["Alice Example", "Bob O'Brien", "Carol Smith, Jr.", "Dave (IT)"]
CHARSETS = list(TEXTS)


def q_encode(data):
    out = []
    for b in data:
        c = chr(b)
        if c == " ":
            out.append("_")
        elif c.isascii() and (c.isalnum() or c in "!*+-/"):
            out.append(c)
        else:
            out.append("=%02X" % b)
    return "".join(out)


def encoded_words(rng, text, charset, enc, split_bytes=False):
    """text as RFC 2047 words of at most 75 characters.  With split_bytes
    (B, stateless charsets only), words are cut at random byte offsets,
    in the middle of a character too, as some mailers do."""
    label = rng.choice([charset, charset.upper()])
    head = "=?%s?%s?" % (label, rng.choice([enc, enc.lower()]))
    room = 75 - len(head) - 2
    words = []
    if split_bytes:
        data = text.encode(charset)
        while data:
            n = min(len(data), rng.randint(1, room // 4 * 3))
            words.append(head + base64.b64encode(data[:n]).decode() + "?=")
            data = data[n:]
        return words
    chunk = ""
    for ch in text:
        trial = chunk + ch
        data = trial.encode(charset)
        size = 4 * ((len(data) + 2) // 3) if enc == "B" else len(q_encode(data))
        if size > room and chunk:
            words.append(finish_word(head, chunk, charset, enc))
            chunk = ch
        else:
            chunk = trial
    if chunk:
        words.append(finish_word(head, chunk, charset, enc))
    return words


def finish_word(head, chunk, charset, enc):
    data = chunk.encode(charset)
    payload = base64.b64encode(data).decode() if enc == "B" else q_encode(data)
    return head + payload + "?="


def fold(rng, words):
    """Joins header tokens with a blank or a folding line break."""
    out = words[0]
    for w in words[1:]:
        out += rng.choice([" ", "\n ", "\n\t", "  "]) + w
    return out


def subject(rng, i):
    """A folded subject: ASCII text, encoded words, several charsets."""
    parts = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        charset = rng.choice(CHARSETS)
        text = rng.choice(TEXTS[charset])
        if rng.random() < 0.15:
            # 200+ characters in one charset
            while len(text) < 210:
                text += " " + rng.choice(TEXTS[charset])
        enc = rng.choice("BQ")
        split = enc == "B" and charset != "iso-2022-jp" and rng.random() < 0.4
        if rng.random() < 0.2:
            parts.append("Re:")
        parts.extend(encoded_words(rng, text, charset, enc, split))
        if rng.random() < 0.3:
            parts.append("(%d)" % i)
    return fold(rng, parts)


def mailbox(rng, i):
    addr = "user%d@example.%s" % (i, rng.choice(["org", "ru", "de", "jp"]))
    r = rng.random()
    if r < 0.2:
        name = rng.choice(ASCII_NAMES)
        return '"%s" <%s>' % (name.replace('"', ""), addr)
    charset = rng.choice(CHARSETS)
    name = rng.choice(NAMES[charset])
    words = encoded_words(rng, name, charset, rng.choice("BQ"))
    if len(words) == 1 and charset != "iso-2022-jp" and rng.random() < 0.5:
        # one word per name part, a blank between: the blank is decoded too
        words = []
        for k, part in enumerate(name.split(" ")):
            words.extend(encoded_words(rng, (" " if k else "") + part, charset, "B"))
    return fold(rng, words) + " <%s>" % addr


def body_text(rng, charset):
    lines = []
    for _ in range(rng.randint(1, 8)):
        lines.append(rng.choice(TEXTS[charset]) + rng.choice(["", ".", "!", " ?"]))
        if rng.random() < 0.2:
            lines.append("")
    if rng.random() < 0.2:
        lines.append(" ".join(rng.choice(TEXTS[charset]) for _ in range(12)))
    return "\n".join(lines) + "\n"


def qp_encode(data):
    """Quoted-printable (RFC 2045) of bytes with LF line breaks."""
    out = []
    for line in data.split(b"\n"):
        enc, width = "", 0
        for k, b in enumerate(line):
            last = k == len(line) - 1
            if (33 <= b <= 126 and b != 61) or (b in (32, 9) and not last):
                piece = chr(b)
            else:
                piece = "=%02X" % b
            if width + len(piece) > 75:
                enc += "=\n"
                width = 0
            enc += piece
            width += len(piece)
        out.append(enc)
    return "\n".join(out)


def text_part(rng, charset):
    text = body_text(rng, charset)
    data = text.encode(charset)
    if charset == "iso-2022-jp":
        cte = rng.choice(["7bit", "base64"])
    else:
        cte = rng.choice(["base64", "quoted-printable", "8bit"])
    if cte == "base64":
        payload = base64.encodebytes(data).decode("ascii")
        body = payload.encode("ascii")
    elif cte == "quoted-printable":
        body = qp_encode(data).encode("ascii") + b"\n"
    else:
        body = data
    label = rng.choice([charset, charset.upper(), '"%s"' % charset])
    head = "Content-Type: text/plain; charset=%s\nContent-Transfer-Encoding: %s\n" % (label, cte)
    return head.encode("ascii"), body


def message(rng, i, msgid):
    charset = rng.choice(CHARSETS)
    head, body = text_part(rng, charset)
    hdr = (
        "Return-Path: <user%d@example.org>\n" % i
        + "From: " + mailbox(rng, i) + "\n"
        + "To: support@example.com\n"
        + "Subject: " + subject(rng, i) + "\n"
        + "Message-ID: <%s>\n" % msgid
        + "Date: Mon, 02 Nov 2026 10:%02d:%02d +0000\n" % (i // 60 % 60, i % 60)
        + "MIME-Version: 1.0\n"
    ).encode("ascii")
    kind = rng.random()
    if kind < 0.6:
        raw = hdr + head + b"\n" + body
    elif kind < 0.8:
        html = "<html><body><p>%s</p></body></html>\n" % rng.choice(TEXTS["utf-8"])
        raw = (
            hdr + b'Content-Type: multipart/alternative; boundary="alt-%d"\n\n--alt-%d\n' % (i, i)
            + head + b"\n" + body + b"\n--alt-%d\n" % i
            + b"Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
            + base64.encodebytes(html.encode("utf-8")) + b"--alt-%d--\n" % i
        )
    else:
        raw = (
            hdr + b'Content-Type: multipart/mixed; boundary="mix-%d"\n\n--mix-%d\n' % (i, i)
            + head + b"\n" + body + b"\n--mix-%d\n" % i
            + b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
            + b'Content-Disposition: attachment; filename="data.bin"\n\n'
            + base64.encodebytes(bytes(rng.randrange(256) for _ in range(300)))
            + b"--mix-%d--\n" % i
        )
    if rng.random() < 0.2:
        raw = raw.replace(b"\n", b"\r\n")
    return raw


def clean_header(raw):
    """ticketd's normalisation of a header value (see the top)."""
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", raw)
    text = str(make_header(decode_header(unfolded)))
    return re.sub(r"[\x00-\x1f\x7f]", " ", text).strip()


def reference(raw):
    """Subject, From display name and text, decoded by Python alone."""
    old = email.message_from_bytes(raw, policy=email.policy.compat32)
    new = email.message_from_bytes(raw, policy=email.policy.default)
    name, _ = email.utils.parseaddr(re.sub(r"\r?\n(?=[ \t])", "", old["From"]))
    part = new.get_body(preferencelist=("plain",))
    return {
        "subject": clean_header(old["Subject"]),
        "name": clean_header(name),
        "text": part.get_content() if part is not None else "",
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--expect", required=True)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    expect = {}
    for i in range(args.count):
        msgid = "decode-%d.%d@example.org" % (args.seed, i)
        raw = message(rng, i, msgid)
        with open(os.path.join(args.out, "1800000000.M%06dP15.decode" % i), "wb") as f:
            f.write(raw)
        expect[msgid] = reference(raw)
    with open(args.expect, "w", encoding="utf-8") as f:
        json.dump(expect, f, ensure_ascii=True, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
