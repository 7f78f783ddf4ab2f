//! PREVIEW (RFC 8970), SEARCHRES (RFC 5182), WITHIN (RFC 5032) and the `$HasAttachment` /
//! `$HasNoAttachment` keywords from a real client, Python's imaplib, over TLS (issue 3), on
//! small messages written for this test: multilingual text, HTML only, an attachment only, and
//! RFC 2231 file names. Skipped (with a note) when python3 is not installed.

mod common;

use std::time::{Duration, SystemTime};

/// Folder `Previews`, UIDs in this order.
fn messages() -> Vec<(&'static str, Vec<u8>, Option<SystemTime>)> {
    let year_2001 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    vec![
        // 1: multilingual text, quoted-printable UTF-8, with ß and a final sigma; dated 2001.
        (
            "Previews",
            b"From: =?utf-8?q?J=C3=BCrgen_Stra=C3=9Fer?= <js@example.de>\r\n\
To: demo@example.org\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Gr=C3=BC=C3=9Fe aus der Stra=C3=9Fe,\r\n\r\n   =CE=BF =CE=BB=CF=8C=CE=B3=CE=BF=CF=82 \
=E6=97=A5=E6=9C=AC=E8=AA=9E\r\n"
                .to_vec(),
            Some(year_2001),
        ),
        // 2: HTML only, windows-1252, a style block and entities.
        (
            "Previews",
            b"From: shop@example.com\r\nTo: demo@example.org\r\nSubject: Your order\r\n\
MIME-Version: 1.0\r\nContent-Type: text/html; charset=windows-1252\r\n\r\n\
<html><head><style>p { color: red }</style></head><body><p>Caf\xe9 &amp; cr&egrave;me</p>\r\n\
<p>order   #42</p></body></html>\r\n"
                .to_vec(),
            None,
        ),
        // 3: an attachment only, its name in RFC 2231 form: no text, so the empty preview.
        (
            "Previews",
            b"From: scanner@example.com\r\nTo: demo@example.org\r\nSubject: scan\r\n\
MIME-Version: 1.0\r\nContent-Type: application/pdf\r\n\
Content-Disposition: attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
                .to_vec(),
            None,
        ),
        // 4: text and an attachment whose name is an RFC 2231 continuation, no disposition.
        (
            "Previews",
            b"From: anna@example.org\r\nTo: demo@example.org\r\nSubject: slides\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"xx\"\r\n\r\n--xx\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\r\nSlides attached.\r\n--xx\r\n\
Content-Type: application/vnd.ms-powerpoint;\r\n name*0*=utf-8''%C3%9Cbersicht;\r\n name*1=.ppt\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--xx--\r\n"
                .to_vec(),
            None,
        ),
        // 5: plain text with an inline text part that has a file name: no attachment.
        (
            "Previews",
            b"From: bob@example.org\r\nTo: demo@example.org\r\nSubject: notes\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"yy\"\r\n\r\n--yy\r\n\
Content-Type: text/plain\r\n\r\nSee the notes below.\r\n--yy\r\n\
Content-Type: text/plain; name=notes.txt\r\nContent-Disposition: inline\r\n\r\nnote one\r\n--yy--\r\n"
                .to_vec(),
            None,
        ),
    ]
}

#[test]
fn imaplib_preview_searchres_within_and_attachment_keywords() {
    let mail = messages();
    let extra: Vec<(&str, &[u8], Option<SystemTime>)> = mail
        .iter()
        .map(|(f, m, t)| (*f, m.as_slice(), *t))
        .collect();
    common::TestServer::start_with_mail(&extra).run_python_client("tests/clients/preview_check.py");
}
