#!/usr/bin/env python3
"""Generate a synthetic archived-mail corpus for the imapvault benchmarks.

Deterministic: the same --seed and --count give byte-identical output on any machine
(Python 3.11+, standard library only). Output is streamed message by message, so memory
stays flat whatever --count is.

    python3 benches/gen_corpus.py --seed 1 --count 100000 --out benches/data/c100k --format both

writes OUT/corpus.mbox (mboxrd) and/or OUT/Maildir/{cur,new,tmp}; the two hold the same
message bytes (LF line ends in both; the mbox adds separator lines and >From quoting).
See benches/README.md for the size distribution and what the messages contain.
"""
import argparse
import base64
import math
import datetime
import os
import quopri
import random
import sys
import time
from collections import deque
from pathlib import Path

# ---------------------------------------------------------------------------- word lists
# Written for this generator: everyday office vocabulary, a few function words, so the text
# has realistic word lengths and letter frequencies for substring search.
WORDS = {
    "en": """meeting project budget report schedule customer order invoice delivery review
        team office deadline proposal contract quarter sales price update question answer
        summary draft version plan design test release server backup account payment
        shipment warehouse sample supplier quality issue change request agenda minutes lunch
        travel hotel flight week month morning afternoon please thanks confirm attached send
        check discuss prepare finish start approve next last new final urgent small large
        good short from about with for the and our your this that will can we you it is on
        at by before after today tomorrow""".split(),
    "de": """Besprechung Projekt Angebot Rechnung Lieferung Kunde Termin Bericht Woche Monat
        Büro Lager Muster Größe Preis Bestellung Vertrag Entwurf Frage Antwort Änderung
        Prüfung Qualität Zahlung Versand Messe Reise Mittagessen Besuch Abteilung
        Zusammenfassung Straße Grüße bitte danke schicken prüfen bestätigen vorbereiten
        besprechen erledigen fertig dringend neu letzte nächste groß klein gut schön früh
        spät heute morgen gestern über für mit und der die das ein eine wir Sie unser Ihr
        nicht noch schon gemäß weiß""".split(),
    "fr": """réunion projet budget rapport calendrier client commande facture livraison
        équipe bureau échéance proposition contrat trimestre ventes prix question réponse
        résumé brouillon version essai serveur sauvegarde compte paiement expédition
        entrepôt échantillon fournisseur qualité problème changement demande déjeuner
        voyage hôtel vol semaine mois matin merci confirmer envoyer vérifier discuter
        préparer finir commencer approuver prochain dernier nouveau urgent petit grand bien
        déjà très avec pour le la les et notre votre à où ça être aujourd'hui""".split(),
    "es": """reunión proyecto presupuesto informe horario cliente pedido factura entrega
        equipo oficina plazo propuesta contrato trimestre ventas precio actualización
        pregunta respuesta resumen borrador versión prueba servidor copia cuenta pago envío
        almacén muestra proveedor calidad cambio solicitud agenda acta almuerzo viaje vuelo
        semana mes mañana tarde gracias confirmar enviar revisar preparar terminar empezar
        aprobar próximo último nuevo urgente pequeño grande bueno también más con para el
        la los y nuestro su año señor""".split(),
    "ru": """встреча проект бюджет отчёт расписание клиент заказ счёт доставка команда офис
        срок предложение договор квартал продажи цена обновление вопрос ответ итог черновик
        версия план проверка сервер копия оплата отправка склад образец поставщик качество
        изменение запрос повестка обед поездка гостиница рейс неделя месяц утро вечер
        пожалуйста спасибо подтвердить отправить проверить обсудить подготовить закончить
        начать следующий последний новый срочно маленький большой хорошо уже очень с для и
        наш ваш это сегодня завтра""".split(),
    "ja": """会議 予定 資料 報告 見積 請求書 納品 顧客 注文 確認 担当 部署 今週 来週 先月 予算
        契約 品質 出荷 倉庫 見本 変更 依頼 質問 回答 概要 草案 試験 出張 会社 皆様 本日 明日
        準備 完了 開始 承認 連絡 新製品 展示会 工場 価格 在庫 発送 打ち合わせ""".split(),
}
JA_PARTICLES = "の を に は が と で について から まで".split()
JA_ENDINGS = ["します。", "しました。", "をお願いします。", "です。", "ください。", "でしょうか。", "いたします。"]

GREETINGS = {
    "en": (["Hi {n},", "Hello {n},", "Dear {n},"], ["Best regards,", "Thanks,", "Cheers,"]),
    "de": (["Hallo {n},", "Sehr geehrte Damen und Herren,", "Liebe Grüße vorab, {n},"],
           ["Mit freundlichen Grüßen", "Viele Grüße", "Beste Grüße"]),
    "fr": (["Bonjour {n},", "Chère équipe,", "Madame, Monsieur,"],
           ["Bien cordialement,", "Merci d'avance,", "À bientôt,"]),
    "es": (["Hola {n}:", "Estimado equipo:", "Buenos días, {n}:"],
           ["Saludos cordiales,", "Un abrazo,", "Muchas gracias,"]),
    "ru": (["Здравствуйте, {n}!", "Добрый день, коллеги!", "Уважаемый {n},"],
           ["С уважением,", "Спасибо,", "Всего доброго,"]),
    "ja": (["{n}様", "皆様", "お疲れ様です。"], ["よろしくお願いいたします。", "以上です。", "引き続きよろしくお願いします。"]),
}
REPLY_PREFIX = {"en": "Re: ", "de": "AW: ", "fr": "RE: ", "es": "RE: ", "ru": "Re: ", "ja": "Re: "}
FWD_PREFIX = {"en": "Fwd: ", "de": "WG: ", "fr": "TR: ", "es": "RV: ", "ru": "Fwd: ", "ja": "Fw: "}

# (display name, local part) per language; domains are example.org/.com/.net only.
PEOPLE = {
    "en": [("Alice Turner", "alice.turner"), ("Brian Hall", "bhall"), ("Carol Diaz", "carol"),
           ("Derek Olsen", "derek.olsen"), ("Emma Clarke", "emma"), ("Frank Moss", "fmoss")],
    "de": [("Jürgen Weiß", "j.weiss"), ("Käthe Schäfer", "k.schaefer"), ("Lars Böhm", "lboehm"),
           ("Monika Groß", "m.gross"), ("Uwe Krüger", "ukrueger")],
    "fr": [("Hélène Dubois", "helene.dubois"), ("François Lefèvre", "f.lefevre"),
           ("Zoé Mercier", "zoe.mercier"), ("Jérôme Garçon", "jgarcon")],
    "es": [("José Muñoz", "jose.munoz"), ("María Peña", "maria.pena"), ("Íñigo Sáez", "isaez"),
           ("Lucía Ortega", "lucia.ortega")],
    "ru": [("Иван Петров", "i.petrov"), ("Ольга Соколова", "o.sokolova"),
           ("Дмитрий Орлов", "d.orlov"), ("Наталья Киселёва", "n.kiseleva")],
    "ja": [("佐藤 健", "k.sato"), ("鈴木 花子", "h.suzuki"), ("高橋 誠", "m.takahashi"),
           ("山本 由美", "y.yamamoto")],
}
DOMAINS = ["example.org", "example.com", "example.net", "mail.example.org", "corp.example.com"]

LANG_WEIGHTS = [("en", 45), ("de", 15), ("fr", 12), ("es", 10), ("ru", 10), ("ja", 8)]
# Body charsets per language, with weights; each must encode the language's words.
CHARSETS = {
    "en": [("us-ascii", 6), ("utf-8", 4)],
    "de": [("utf-8", 5), ("iso-8859-1", 3), ("windows-1252", 2)],
    "fr": [("utf-8", 5), ("iso-8859-1", 3), ("windows-1252", 2)],
    "es": [("utf-8", 6), ("iso-8859-1", 4)],
    "ru": [("utf-8", 6), ("koi8-r", 4)],
    "ja": [("utf-8", 6), ("iso-2022-jp", 4)],
}
MAX_SIZE_DEFAULT = 2 * 1024 * 1024


def pick(rng, weighted):
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for item, w in weighted:
        x -= w
        if x < 0:
            return item
    return weighted[-1][0]


# ---------------------------------------------------------------------------- encodings
def encoded_words(text, charset, kind):
    """RFC 2047 encoded words for `text`, each at most 75 chars, joined by folding spaces."""
    prefix = f"=?{charset.upper()}?{kind}?"
    words, cur = [], ""
    for ch in text:
        trial = cur + ch
        if len(prefix) + len(_ew_payload(trial, charset, kind)) + 2 > 75 and cur:
            words.append(cur)
            cur = ch
        else:
            cur = trial
    words.append(cur)
    return "\n ".join(f"{prefix}{_ew_payload(w, charset, kind)}?=" for w in words)


def _ew_payload(text, charset, kind):
    data = text.encode(charset)
    if kind == "B":
        return base64.b64encode(data).decode("ascii")
    out = []
    for b in data:
        if b == 0x20:
            out.append("_")
        elif (0x30 <= b <= 0x39) or (0x41 <= b <= 0x5A) or (0x61 <= b <= 0x7A):
            out.append(chr(b))
        else:
            out.append(f"={b:02X}")
    return "".join(out)


def header_text(rng, text, lang):
    """A header value: ASCII as is, otherwise RFC 2047 (B or Q, UTF-8 or the language's charset)."""
    if text.isascii():
        return text
    charset = "utf-8"
    if rng.random() < 0.3:
        charset = {"de": "iso-8859-1", "fr": "iso-8859-1", "es": "iso-8859-1", "ru": "koi8-r",
                   "ja": "iso-2022-jp"}.get(lang, "utf-8")
        try:
            text.encode(charset)
        except UnicodeEncodeError:
            charset = "utf-8"  # a name from another language
    kind = "Q" if lang in ("de", "fr", "es") and rng.random() < 0.6 else "B"
    return encoded_words(text, charset, kind)


def address(rng, person, lang, domain):
    name, local = person
    shown = header_text(rng, name, lang)
    if shown == name and any(c in name for c in '",.;:<>@()'):
        shown = f'"{name}"'
    return f"{shown} <{local}@{domain}>"


def wrap(words, width=72):
    lines, line = [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    if line:
        lines.append(line)
    return lines


# ---------------------------------------------------------------------------- text
class Text:
    """Pseudo-sentences from a language's word list."""

    POOL = 256  # paragraphs kept per language

    def __init__(self, rng):
        self.rng = rng
        # Most paragraphs are drawn again from a per-language pool (filled and refreshed from
        # the same random stream, so still deterministic): fresh sentences cost ~5x more.
        self.pool = {lang: [] for lang in WORDS}

    def sentence(self, lang):
        rng = self.rng
        if lang == "ja":
            parts = []
            for _ in range(rng.randint(2, 5)):
                parts.append(rng.choice(WORDS["ja"]) + rng.choice(JA_PARTICLES))
            return "".join(parts) + rng.choice(WORDS["ja"]) + rng.choice(JA_ENDINGS)
        words = rng.choices(WORDS[lang], k=rng.randint(5, 16))
        words[0] = words[0][:1].upper() + words[0][1:]
        return " ".join(words) + rng.choice([".", ".", ".", "?", "!"])

    def paragraph_lines(self, lang):
        rng, pool = self.rng, self.pool[lang]
        if len(pool) >= self.POOL and rng.random() < 0.8:
            return pool[int(rng.random() * len(pool))]
        lines = self.fresh_paragraph(lang)
        if len(pool) < self.POOL:
            pool.append(lines)
        else:
            pool[int(rng.random() * len(pool))] = lines
        return lines

    def fresh_paragraph(self, lang):
        rng = self.rng
        sentences = [self.sentence(lang) for _ in range(rng.randint(2, 6))]
        if lang == "ja":
            text = "".join(sentences)
            return [text[i:i + 36] for i in range(0, len(text), 36)]
        lines = wrap(" ".join(sentences).split(" "))
        if lang == "en" and rng.random() < 0.03:
            # A line that starts with "From " (mboxrd must quote it as ">From ").
            lines.insert(0, "From the " + rng.choice(WORDS["en"]) + " side: "
                         + rng.choice(WORDS["en"]) + ".")
        return lines

    def subject(self, lang):
        rng = self.rng
        if lang == "ja":
            return "".join(rng.choice(WORDS["ja"]) + rng.choice(JA_PARTICLES[:4])
                           for _ in range(rng.randint(1, 3))) + rng.choice(WORDS["ja"])
        words = rng.choices(WORDS[lang], k=rng.randint(2, 7))
        return " ".join(words).capitalize()

    def body(self, lang, target_len, greet_name, sender_name, quote=None):
        """Plain-text body of about target_len characters (a str, LF line ends)."""
        rng = self.rng
        hello, bye = GREETINGS[lang]
        lines = [rng.choice(hello).format(n=greet_name), ""]
        size = len(lines[0])
        while size < target_len:
            para = self.paragraph_lines(lang)
            lines.extend(para)
            lines.append("")
            size += sum(map(len, para)) + len(para) + 1
        lines += [rng.choice(bye), sender_name]
        if quote:
            lines += ["", quote[0]] + ["> " + q if q else ">" for q in quote[1:]]
        return "\n".join(lines) + "\n"


def html_of(text):
    esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    paras = [p.replace("\n", "<br>\n") for p in esc.split("\n\n") if p.strip()]
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><style>body{font-family:"
            "Arial,sans-serif;font-size:14px}p{margin:0 0 1em}</style></head><body>\n"
            + "\n".join(f"<p>{p}</p>" for p in paras) + "\n</body></html>\n")


# ---------------------------------------------------------------------------- MIME pieces
def text_part(rng, text, charset, subtype="plain", force_cte=None):
    """Headers + body (bytes) of a text part in `charset` with a chosen transfer encoding."""
    data = text.encode(charset)
    if force_cte:
        cte = force_cte
    elif charset == "iso-2022-jp" or data.isascii():
        cte = "7bit" if rng.random() < 0.85 else "quoted-printable"
        if charset == "iso-2022-jp":
            cte = "7bit" if rng.random() < 0.7 else "base64"
    else:
        cte = pick(rng, [("8bit", 4), ("quoted-printable", 4), ("base64", 2)])
    if cte == "quoted-printable":
        body = quopri.encodestring(data)
    elif cte == "base64":
        body = base64.encodebytes(data)
    else:
        body = data
    if not body.endswith(b"\n"):
        body += b"\n"
    head = (f"Content-Type: text/{subtype}; charset={charset}\n"
            f"Content-Transfer-Encoding: {cte}\n").encode("ascii")
    return head, body


def multipart(boundary, subtype, parts, preamble=True):
    """parts: list of (headers bytes, body bytes). Returns (headers, body)."""
    out = []
    if preamble:
        out.append(b"This is a multi-part message in MIME format.\n\n")
    for head, body in parts:
        out.append(b"--" + boundary + b"\n" + head + b"\n" + body)
        if not body.endswith(b"\n"):
            out.append(b"\n")
    out.append(b"--" + boundary + b"--\n")
    head = f'Content-Type: multipart/{subtype};\n boundary="{boundary.decode()}"\n'.encode()
    return head, b"".join(out)


BINARY_KINDS = [
    # (content type, extension, magic bytes at the start)
    ("application/pdf", "pdf", b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"),
    ("image/jpeg", "jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01"),
    ("image/png", "png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ("application/zip", "zip", b"PK\x03\x04\x14\x00\x00\x00\x08\x00"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx",
     b"PK\x03\x04\x14\x00\x06\x00\x08\x00"),
]
FILE_STEMS = {
    "en": ["report", "invoice", "photo", "slides", "minutes", "contract", "price list"],
    "de": ["Rechnung", "Angebot", "Protokoll", "Preisliste", "Übersicht", "Bestellung"],
    "fr": ["facture", "compte rendu", "présentation", "devis", "échantillon"],
    "es": ["factura", "informe", "presentación", "pedido", "catálogo"],
    "ru": ["счёт", "отчёт", "договор", "презентация"],
    "ja": ["見積書", "請求書", "資料", "報告書"],
}


def attachment_size(rng, room):
    """Raw (decoded) attachment size: long-tailed, limited to `room` bytes."""
    bucket = pick(rng, [("s", 60), ("m", 30), ("l", 8), ("xl", 2)])
    lo, hi = {"s": (1_000, 20_000), "m": (20_000, 100_000), "l": (100_000, 500_000),
              "xl": (500_000, 2_000_000)}[bucket]
    # log-uniform inside the bucket
    size = int(lo * (hi / lo) ** rng.random())
    return max(200, min(size, room))


def disposition(rng, filename, lang):
    """Content-Disposition with the filename as plain, RFC 2231 or (common, non-standard) RFC 2047."""
    if filename.isascii():
        return f'Content-Disposition: attachment; filename="{filename}"\n', f'; name="{filename}"'
    style = rng.random()
    if style < 0.5:
        enc = "".join(c if c.isascii() and (c.isalnum() or c in "-._") else
                      "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in filename)
        return f"Content-Disposition: attachment;\n filename*=UTF-8''{enc}\n", ""
    ew = encoded_words(filename, "utf-8", "B")
    return f'Content-Disposition: attachment;\n filename="{ew}"\n', f'; name="{ew}"'


def make_attachment(rng, lang, room, text):
    """One attachment part (headers, body) whose raw size fits in `room` (encoded bytes)."""
    stem = rng.choice(FILE_STEMS[lang])
    # base64 turns 57 raw bytes into a 77-byte line
    raw_room = max(200, room * 57 // 77 - 200)
    if rng.random() < 0.35:
        # Text attachment: CSV or a plain .txt, base64 or quoted-printable or 7bit.
        size = min(attachment_size(rng, raw_room), 300_000)
        if rng.random() < 0.6:
            words = WORDS[lang]
            rows = ["date;item;quantity;amount"]
            n, have = 0, len(rows[0]) + 1
            while have < size:
                n += 1
                r = rng.random()
                rows.append(f"2024-{1 + n % 12:02d}-{1 + n % 28:02d};{words[int(r * len(words))]};"
                            f"{1 + int(r * 7919) % 500};{int(r * 1e7) % 99999 / 100:.2f}")
                have += len(rows[-1]) + 1
            content, ctype, ext = "\n".join(rows) + "\n", "text/csv", "csv"
        else:
            lines, have = [], 0
            while have < size:
                para = text.paragraph_lines(lang) + [""]
                lines.extend(para)
                have += sum(len(x) + 1 for x in para)
            content, ctype, ext = "\n".join(lines), "text/plain", "txt"
        data = content.encode("utf-8")
        if len(data) > raw_room:
            # Sizes above count characters; Cyrillic or Japanese text is 2-3 bytes each.
            data = data[:raw_room].decode("utf-8", "ignore").encode("utf-8")
        cte = pick(rng, [("base64", 5), ("quoted-printable", 3), ("8bit", 2)])
        if cte == "quoted-printable":
            body = quopri.encodestring(data)
        elif cte == "8bit":
            body = data
        if cte == "base64" or len(body) > room - 200:
            # (QP of Cyrillic or Japanese text triples it: base64 keeps within `room`)
            body, cte = base64.encodebytes(data), "base64"
        charset = "; charset=utf-8"
    else:
        ctype, ext, magic = rng.choice(BINARY_KINDS)
        size = attachment_size(rng, raw_room)
        data = magic + rng.randbytes(max(0, size - len(magic)))
        body, cte, charset = base64.encodebytes(data), "base64", ""
    filename = f"{stem} {rng.randint(1, 999)}.{ext}" if " " in stem else f"{stem}-{rng.randint(1, 999)}.{ext}"
    disp, name_param = disposition(rng, filename, lang)
    head = (f"Content-Type: {ctype}{charset}{name_param}\n" + disp
            + f"Content-Transfer-Encoding: {cte}\n").encode("utf-8")
    return head, body


# ---------------------------------------------------------------------------- messages
class Generator:
    def __init__(self, seed, count, max_size, start, body_median=2440, body_max=40_000):
        self.rng = random.Random(seed)
        self.seed = seed
        self.text = Text(self.rng)
        self.count = count
        self.max_size = max_size
        self.body_mu = math.log(body_median)
        self.body_max = body_max
        self.start = start
        # ~6 years of archive, in order, whatever the count.
        self.step = 6 * 365 * 86400 / max(count, 1)
        self.recent = deque(maxlen=300)  # (mid, refs, subject, lang, sender, quote lines)
        self.n_inner = 0
        self.boundary_n = 0

    def boundary(self):
        self.boundary_n += 1
        return f"=_b{self.boundary_n:x}_{self.rng.getrandbits(48):012x}".encode()

    def message(self, i):
        """Message i: (envelope sender, unix time, message bytes)."""
        rng = self.rng
        ts = self.start + int(i * self.step + rng.random() * self.step)
        parent = None
        if self.recent and rng.random() < 0.35:
            parent = self.recent[-1 - int(len(self.recent) * rng.random() ** 3)]
        lang = parent[3] if parent and rng.random() < 0.9 else pick(rng, LANG_WEIGHTS)
        mid = f"<{ts:x}.{i:07d}.{rng.getrandbits(32):08x}@{rng.choice(DOMAINS)}>"
        raw, sender = self.build(lang, ts, mid, parent, depth=0)
        return sender, ts, raw

    def build(self, lang, ts, mid, parent, depth):
        rng, text = self.rng, self.text
        frm_lang = lang if rng.random() < 0.8 else "en"
        frm_person = rng.choice(PEOPLE[frm_lang])
        frm_domain = rng.choice(DOMAINS)
        sender_addr = f"{frm_person[1]}@{frm_domain}"
        to = [rng.choice(PEOPLE[lang if rng.random() < 0.7 else "en"]) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        cc = [rng.choice(PEOPLE[rng.choice(list(PEOPLE))]) for _ in range(rng.choice([0, 0, 0, 1, 2]))]

        headers = []
        if depth == 0:
            headers.append(f"Return-Path: <{sender_addr}>")
            headers.append(f"Received: from mx{rng.randint(1, 4)}.example.net (mx.example.net [192.0.2.{rng.randint(1, 254)}])\n"
                           f"\tby mail.example.org with ESMTPS id {rng.getrandbits(40):010x}\n"
                           f"\tfor <{to[0][1]}@example.org>; {fmt_date(ts + rng.randint(1, 30))}")
        headers.append("From: " + address(rng, frm_person, frm_lang, frm_domain))
        headers.append("To: " + ",\n ".join(address(rng, p, lang, rng.choice(DOMAINS)) for p in to))
        if cc:
            headers.append("Cc: " + ",\n ".join(address(rng, p, lang, rng.choice(DOMAINS)) for p in cc))

        forward = depth < 2 and rng.random() < (0.04 if depth == 0 else 0.15)
        if parent:
            p_mid, p_refs, p_subject, _, p_sender, p_quote = parent
            base = strip_prefixes(p_subject)
            subject = REPLY_PREFIX[lang] + base
            refs = (p_refs + [p_mid])[-12:]
        else:
            subject = text.subject(lang)
            refs = []
        if forward:
            subject = FWD_PREFIX[lang] + subject
        headers.append("Subject: " + header_text(rng, subject, lang))
        headers.append("Date: " + fmt_date(ts))
        headers.append("Message-ID: " + mid)
        if refs:
            headers.append("In-Reply-To: " + refs[-1])
            headers.append("References: " + "\n ".join(refs))
        if rng.random() < 0.3:
            headers.append("X-Mailer: " + rng.choice(["Thunderbird 115.8", "Outlook 16.0", "Apple Mail (2.3774)", "Roundcube 1.6"]))
        headers.append("MIME-Version: 1.0")
        if lang != "en":
            headers.append(f"Content-Language: {lang}")

        # Body text: log-normal length, median ~2.5 KB, within 200 B .. 40 KB.
        target = int(min(self.body_max, max(200, rng.lognormvariate(self.body_mu, 0.8))))
        if depth:
            target = min(target, 3000)
        quote = None
        if parent:
            quote = [f"{p_sender} wrote:"] + parent[5]
        greet = to[0][0].split(" ")[0]
        body_text = text.body(lang, target, greet, frm_person[0], quote)
        charset = pick(rng, CHARSETS[lang])
        try:
            body_text.encode(charset)
        except UnicodeEncodeError:
            charset = "utf-8"  # quoted text or a name from another language

        shape = pick(rng, [("plain", 45), ("alt", 40), ("html", 5)]) if depth == 0 else pick(rng, [("plain", 6), ("alt", 4)])
        if shape == "plain":
            content = text_part(rng, body_text, charset)
        elif shape == "html":
            content = text_part(rng, html_of(body_text), "utf-8", "html")
        else:
            content = multipart(self.boundary(), "alternative",
                                [text_part(rng, body_text, charset),
                                 text_part(rng, html_of(body_text), "utf-8", "html",
                                           force_cte=rng.choice(["quoted-printable", "base64", None]))])

        extras = []
        size_so_far = len(content[1]) + 1500
        if forward:
            self.n_inner += 1
            inner_ts = ts - rng.randint(3600, 90 * 86400)
            inner_mid = f"<fwd.{self.n_inner:07d}.{rng.getrandbits(32):08x}@{rng.choice(DOMAINS)}>"
            inner, _ = self.build(pick(rng, LANG_WEIGHTS), inner_ts, inner_mid, None, depth + 1)
            head = b"Content-Type: message/rfc822\n"
            if rng.random() < 0.5:
                head += b"Content-Disposition: inline\n"
            extras.append((head, inner))
            size_so_far += len(inner) + 100
        if depth == 0 and rng.random() < 0.3:
            for _ in range(pick(rng, [(1, 7), (2, 2), (3, 1)])):
                room = self.max_size - size_so_far - 4000
                if room < 2000:
                    break
                att = make_attachment(rng, lang, room, text)
                size_so_far += len(att[0]) + len(att[1]) + 100
                extras.append(att)
        if extras:
            content = multipart(self.boundary(), "mixed", [content] + extras)

        raw = ("\n".join(headers) + "\n").encode("ascii") + content[0] + b"\n" + content[1]
        if depth == 0:
            quote_lines = body_text.split("\n")[2:6]
            self.recent.append((mid, refs, subject, lang, frm_person[0], quote_lines))
        return raw, sender_addr


PREFIXES = sorted(set(REPLY_PREFIX.values()) | set(FWD_PREFIX.values()))


def strip_prefixes(subject):
    """Drop reply/forward prefixes ("Re: AW: x" -> "x"), in a fixed order (no set iteration)."""
    changed = True
    while changed:
        changed = False
        for pre in PREFIXES:
            if subject.startswith(pre):
                subject, changed = subject[len(pre):], True
    return subject


def fmt_date(ts):
    dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    # Most mail carries the sender's offset; keep a few zones for variety, same instant.
    offset = [0, 1, 2, -5, 3, 9][ts % 6]
    local = dt.astimezone(datetime.timezone(datetime.timedelta(hours=offset)))
    return local.strftime("%a, %d %b %Y %H:%M:%S ") + f"{offset:+03d}00"


# ---------------------------------------------------------------------------- writers
class MboxWriter:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 20)

    def write(self, sender, ts, raw):
        f = self.f
        f.write(f"From {sender} {time.asctime(time.gmtime(ts))}\n".encode("ascii"))
        if b"From " in raw:
            lines = raw.split(b"\n")
            for k, line in enumerate(lines):
                if line.lstrip(b">").startswith(b"From "):
                    lines[k] = b">" + line
            raw = b"\n".join(lines)
        f.write(raw)
        f.write(b"\n")

    def close(self):
        self.f.close()


class SplitMboxWriter:
    """mbox files of `per` messages each, `part-NNNNN.mbox` under `out`, for corpora too big to
    keep on disk whole (benches/search_bench.sh SPLIT=...): a part is written as
    `part-NNNNN.mbox.tmp` and renamed when complete, and part k is not started while part
    k - `ahead` is still there (its consumer deletes each part once it has read it). Waits at
    most `wait_seconds` for the consumer in all."""

    def __init__(self, out, per, ahead=2, wait_seconds=7200):
        self.out, self.per, self.ahead = out, per, ahead
        self.deadline = time.monotonic() + wait_seconds
        self.n, self.part, self.writer = 0, -1, None

    def path(self, k):
        return self.out / f"part-{k:05d}.mbox"

    def write(self, sender, ts, raw):
        if self.n % self.per == 0:
            self.finish()
            self.part += 1
            older = self.path(self.part - self.ahead)
            while self.part >= self.ahead and older.exists():
                if time.monotonic() > self.deadline:
                    raise SystemExit(f"gen_corpus.py: {older} was not consumed in time")
                time.sleep(0.2)
            self.writer = MboxWriter(Path(str(self.path(self.part)) + ".tmp"))
        self.writer.write(sender, ts, raw)
        self.n += 1

    def finish(self):
        if self.writer is not None:
            self.writer.close()
            os.rename(str(self.path(self.part)) + ".tmp", self.path(self.part))
            self.writer = None

    def close(self):
        self.finish()


class MaildirWriter:
    FLAGS = [("S", 70), ("", 15), ("FS", 5), ("RS", 10)]

    def __init__(self, path, seed, rng):
        self.root = Path(path)
        for sub in ("cur", "new", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.seed = seed
        self.rng = rng
        self.n = 0

    def write(self, sender, ts, raw):
        self.n += 1
        flags = pick(self.rng, self.FLAGS)
        name = f"{ts}.M{self.n:07d}P{self.seed}.corpus,S={len(raw)}:2,{flags}"
        path = self.root / "cur" / name
        with open(path, "wb") as f:
            f.write(raw)
        os.utime(path, (ts, ts))

    def close(self):
        pass


# ---------------------------------------------------------------------------- main
BUCKETS = [(2 * 1024, "< 2 KB"), (20 * 1024, "2-20 KB"), (100 * 1024, "20-100 KB"),
           (1024 * 1024, "100 KB-1 MB"), (float("inf"), ">= 1 MB")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--count", type=int, default=1000, help="number of messages (default 1000)")
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--format", choices=["mbox", "maildir", "both"], default="both")
    ap.add_argument("--max-size", type=int, default=MAX_SIZE_DEFAULT,
                    help="cap on one message's size in bytes (default 2 MiB)")
    ap.add_argument("--start", default="2019-01-01",
                    help="date of the first message, YYYY-MM-DD; the corpus spans ~6 years")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    ap.add_argument("--body-median", type=int, default=2440,
                    help="median body text length in characters (log-normal; default 2440)")
    ap.add_argument("--body-max", type=int, default=40_000,
                    help="longest body text in characters (default 40000)")
    ap.add_argument("--split", type=int, default=0,
                    help="write the mbox as part-NNNNN.mbox files of this many messages, at "
                         "most two ahead of a consumer that deletes them (mbox format only)")
    args = ap.parse_args(argv)
    if args.split and args.format != "mbox":
        ap.error("--split needs --format mbox")
    if args.max_size < 64 * 1024:
        ap.error("--max-size must be at least 65536")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = int(datetime.datetime.strptime(args.start, "%Y-%m-%d")
                .replace(tzinfo=datetime.timezone.utc).timestamp())
    gen = Generator(args.seed, args.count, args.max_size, start, args.body_median, args.body_max)
    writers = []
    if args.split:
        writers.append(SplitMboxWriter(out, args.split))
    elif args.format in ("mbox", "both"):
        writers.append(MboxWriter(out / "corpus.mbox"))
    if args.format in ("maildir", "both"):
        # Flags come from their own stream so mbox-only and both give the same messages.
        writers.append(MaildirWriter(out / "Maildir", args.seed, random.Random(args.seed ^ 0x5EED)))

    t0 = time.monotonic()
    total, largest = 0, 0
    hist = [0] * len(BUCKETS)
    for i in range(args.count):
        sender, ts, raw = gen.message(i)
        assert len(raw) <= args.max_size, (i, len(raw))
        for w in writers:
            w.write(sender, ts, raw)
        total += len(raw)
        largest = max(largest, len(raw))
        for k, (limit, _) in enumerate(BUCKETS):
            if len(raw) < limit:
                hist[k] += 1
                break
        if not args.quiet and (i + 1) % 10000 == 0:
            el = time.monotonic() - t0
            print(f"{i + 1} messages, {total / 1e6:.0f} MB, {(i + 1) / el:.0f} msg/s",
                  file=sys.stderr)
    for w in writers:
        w.close()
    el = time.monotonic() - t0
    n = max(args.count, 1)
    print(f"wrote {args.count} messages ({args.format}) to {out}: {total / 1e6:.1f} MB of messages, "
          f"mean {total / n / 1024:.1f} KB, largest {largest / 1024:.0f} KB, "
          f"{el:.1f} s, {args.count / max(el, 1e-9):.0f} msg/s", file=sys.stderr)
    for (_, label), c in zip(BUCKETS, hist):
        print(f"  {label:>12}: {c:7d} ({100 * c / n:5.1f} %)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
