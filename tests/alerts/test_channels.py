"""The delivery channels against real local servers speaking each provider's documented contract
(tests/alerts/providers.py): what the person receives, and which provider answer becomes which
outcome for the outbox (deliver, retry, fall back)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import trustme

from backend.alerts.channels.base import Channel, Delivery, Outcome
from backend.alerts.channels.email import EmailChannel, message_id
from backend.alerts.channels.inbox import MemoryInbox
from backend.alerts.channels.sms import (
    GSM7_BASIC,
    SmsChannel,
    request_id,
    segments,
    strip_diacritics,
)
from backend.alerts.channels.webhook import (
    WebhookChannel,
    retry_after_s,
    signature,
    verify_signature,
)
from backend.alerts.channels.zalo import ZaloChannel
from ruong.services import free_port
from tests.alerts.providers import EsmsServer, SmtpServer, WebhookReceiver, ZnsServer

SMTP_USER, SMTP_PASSWORD = "canhbao", "smtp-pw-5Qx9"
WEBHOOK_SECRET = "whsec-7d41c2a9"
ZALO_TOKEN = "zalo-oa-token-81f3"
ESMS_KEY, ESMS_SECRET = "esms-key-6b2e", "esms-secret-0c7d"
SECRETS = (SMTP_PASSWORD, WEBHOOK_SECRET, ZALO_TOKEN, ESMS_KEY, ESMS_SECRET)

TEMPLATE_ID = "301234"
TEMPLATE_PARAMS = {"field", "risk", "action", "deadline"}
SUBJECT = "Cảnh báo: bệnh đạo ôn"
BODY = (
    "Ruộng Đồng Nội (Gia Viễn): nguy cơ bệnh đạo ôn mức 3. "
    "Phun thuốc trước 17:00 hôm nay. Nguồn: pest_blast v2."
)
ACK = "https://ruong.example.vn/a/42?sig=3f9c"


def alert(key: str = "alert-42.officer-7.1", **fields: object) -> Delivery:
    values: dict[str, object] = {
        "subject": SUBJECT,
        "body": BODY,
        "level": 3,
        "name": "Nguyễn Thị Hoa",
        "phone": "+84912345678",
        "email": "hoa@example.vn",
        "ack_url": ACK,
        "template_data": {
            "field": "Đồng Nội",
            "risk": "đạo ôn mức 3",
            "action": "Phun thuốc",
            "deadline": "17:00 hôm nay",
        },
    }
    values.update(fields)
    return Delivery(idempotency_key=key, **values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test, whatever it sends: no secret in any log line at any level."""
    caplog.set_level(logging.DEBUG)
    yield
    for secret in SECRETS:
        assert secret not in caplog.text


# --- email -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def smtp(ca: trustme.CA, ca_file: str) -> Iterator[SmtpServer]:
    server = SmtpServer(ca, ca_file, SMTP_USER, SMTP_PASSWORD)
    server.start()
    yield server
    server.stop()


def email_channel(url: str, ca_file: str | None) -> EmailChannel:
    return EmailChannel(url, "Ruộng <canhbao@example.vn>", ca_file=ca_file, timeout_s=5)


def test_an_email_arrives_once_in_vietnamese_with_its_ack_link(smtp: SmtpServer) -> None:
    result = email_channel(smtp.url(), smtp.ca_file).send(alert())

    assert result.outcome == Outcome.DELIVERED
    [message] = smtp.mailbox.messages
    assert message["Subject"] == SUBJECT
    assert message["From"].addresses[0].display_name == "Ruộng"
    assert str(message["To"]) == "Nguyễn Thị Hoa <hoa@example.vn>"
    part = message.get_body()
    assert part is not None
    text = part.get_content()
    assert BODY in text and ACK in text
    assert message["Message-ID"] == message_id("alert-42.officer-7.1", "example.vn")
    assert result.provider_id == message["Message-ID"]
    # on the wire: 7-bit clean, the subject an RFC 2047 encoded word, the body quoted-printable
    [raw] = smtp.mailbox.raw
    assert raw.isascii()
    assert b"Subject: =?utf-8?" in raw
    assert message["Content-Transfer-Encoding"] == "quoted-printable"


def test_a_resend_carries_the_same_message_id(smtp: SmtpServer) -> None:
    channel = email_channel(smtp.url(), smtp.ca_file)
    channel.send(alert())
    channel.send(alert())

    first, second = smtp.mailbox.messages
    assert first["Message-ID"] == second["Message-ID"]
    other = message_id("x" * 80, "example.vn")  # a key that is no dot-atom is hashed, stably
    assert other == message_id("x" * 80, "example.vn") and "xxx" not in other


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        ("451 4.3.0 Temporary local problem, try later", Outcome.TRANSIENT),
        ("452 4.2.2 Mailbox full", Outcome.TRANSIENT),
        ("550 5.1.1 Mailbox unavailable", Outcome.PERMANENT),
    ],
)
def test_an_smtp_refusal_is_transient_or_permanent_by_its_class(
    smtp: SmtpServer, reply: str, outcome: Outcome
) -> None:
    smtp.mailbox.refuse["hoa@example.vn"] = reply

    result = email_channel(smtp.url(), smtp.ca_file).send(alert())

    assert result.outcome == outcome
    assert reply.split()[0] in result.detail
    assert smtp.mailbox.messages == []


def test_nothing_listening_is_transient() -> None:
    url = f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{free_port()}"
    assert email_channel(url, None).send(alert()).outcome == Outcome.TRANSIENT


def test_a_wrong_password_is_permanent_and_logged(
    smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    result = email_channel(smtp.url(password="not-it"), smtp.ca_file).send(alert())

    assert result.outcome == Outcome.PERMANENT and "535" in result.detail
    assert any(r.levelno == logging.ERROR and "login" in r.getMessage() for r in caplog.records)
    assert "not-it" not in caplog.text


def test_an_untrusted_certificate_is_permanent(smtp: SmtpServer) -> None:
    result = email_channel(smtp.url(), None).send(alert())  # the system CAs do not know trustme

    assert result.outcome == Outcome.PERMANENT and "certificate" in result.detail
    assert smtp.mailbox.messages == []


# aiosmtpd counts only STARTTLS as TLS for AUTH and warns; this whole session is TLS
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtps_speaks_tls_from_the_first_byte(ca: trustme.CA, ca_file: str) -> None:
    server = SmtpServer(ca, ca_file, SMTP_USER, SMTP_PASSWORD, implicit_tls=True)
    server.start()
    try:
        result = email_channel(server.url(scheme="smtps"), ca_file).send(alert())
    finally:
        server.stop()
    assert result.outcome == Outcome.DELIVERED
    assert server.mailbox.messages[0]["Subject"] == SUBJECT


@pytest.mark.parametrize(("address", "why"), [(None, "no address"), ("hoa", "invalid address")])
def test_a_person_without_a_usable_email_is_permanent(
    smtp: SmtpServer, address: str | None, why: str
) -> None:
    result = email_channel(smtp.url(), smtp.ca_file).send(alert(email=address))

    assert result.outcome == Outcome.PERMANENT and why in result.detail
    assert smtp.mailbox.messages == []


# --- webhook ---------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(WEBHOOK_SECRET)
    server.start()
    yield server
    server.stop()


def test_a_webhook_is_signed_and_the_receiver_verifies_it(receiver: WebhookReceiver) -> None:
    channel = WebhookChannel(receiver.url + "/hooks/ruong", WEBHOOK_SECRET, timeout_s=5)

    result = channel.send(alert())
    channel.close()

    assert result.outcome == Outcome.DELIVERED, receiver.rejected
    [document] = receiver.accepted
    assert document["idempotency_key"] == "alert-42.officer-7.1"
    assert document["level"] == 3 and document["subject"] == SUBJECT
    assert document["body"] == BODY and document["ack_url"] == ACK
    sent_at = datetime.fromisoformat(document["sent_at"])
    assert abs(sent_at.timestamp() - time.time()) < 60


def test_the_receiver_rejects_a_tampered_body_and_a_stale_timestamp(
    receiver: WebhookReceiver,
) -> None:
    body = b'{"idempotency_key":"k","level":1}'
    now = int(time.time())
    tampered = body.replace(b'"level":1', b'"level":3')
    headers = {
        "X-Ruong-Signature": f"t={now},v1={signature(WEBHOOK_SECRET, now, body)}",
        "Idempotency-Key": "k",
    }
    assert httpx.post(receiver.url, content=tampered, headers=headers).status_code == 401
    assert httpx.post(receiver.url, content=body, headers=headers).status_code == 204

    stale = WebhookChannel(receiver.url, WEBHOOK_SECRET, clock=lambda: time.time() - 600)
    assert stale.send(alert()).outcome == Outcome.PERMANENT  # a 401 will not change
    stale.close()
    assert receiver.rejected == ["signature mismatch", "timestamp outside tolerance"]


def test_verify_signature_is_the_documented_scheme() -> None:
    body = '{"subject":"Cảnh báo"}'.encode()
    header = f"t=1700000000,v1={signature(WEBHOOK_SECRET, 1700000000, body)}"

    assert verify_signature(WEBHOOK_SECRET, header, body, now=1700000100)
    assert not verify_signature(WEBHOOK_SECRET, header, body + b" ", now=1700000100)
    assert not verify_signature("another secret", header, body, now=1700000100)
    assert not verify_signature(WEBHOOK_SECRET, header, body, now=1700000301)
    assert not verify_signature(WEBHOOK_SECRET, "v1=abc", body, now=1700000000)


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "retry"),
    [
        (503, {"Retry-After": "7"}, Outcome.TRANSIENT, 7.0),
        (429, {}, Outcome.TRANSIENT, None),
        (408, {}, Outcome.TRANSIENT, None),
        (400, {}, Outcome.PERMANENT, None),
        (410, {}, Outcome.PERMANENT, None),
        (302, {"Location": "http://elsewhere/"}, Outcome.PERMANENT, None),
    ],
)
def test_the_receivers_status_decides_retry_or_fallback(
    receiver: WebhookReceiver,
    status: int,
    headers: dict[str, str],
    outcome: Outcome,
    retry: float | None,
) -> None:
    receiver.answers.append((status, headers))
    channel = WebhookChannel(receiver.url, WEBHOOK_SECRET)

    result = channel.send(alert())
    channel.close()

    assert (result.outcome, result.retry_after_s) == (outcome, retry)
    assert str(status) in result.detail


def test_retry_after_as_an_http_date() -> None:
    now = time.time()
    later = datetime.fromtimestamp(now + 120, UTC)
    assert retry_after_s(format_datetime(later, usegmt=True), now) == pytest.approx(120, abs=1)
    assert retry_after_s("soon", now) is None


def test_an_unreachable_receiver_is_transient() -> None:
    channel = WebhookChannel(f"http://127.0.0.1:{free_port()}/", WEBHOOK_SECRET)
    assert channel.send(alert()).outcome == Outcome.TRANSIENT
    channel.close()


# --- Zalo ZNS --------------------------------------------------------------------------------


@pytest.fixture
def zns() -> Iterator[ZnsServer]:
    server = ZnsServer(ZALO_TOKEN, {TEMPLATE_ID: TEMPLATE_PARAMS})
    server.start()
    yield server
    server.stop()


def zalo_channel(zns: ZnsServer, token: str = ZALO_TOKEN, **kw: object) -> ZaloChannel:
    return ZaloChannel(zns.url, token, TEMPLATE_ID, timeout_s=5, **kw)  # type: ignore[arg-type]


def test_a_zns_message_is_delivered_with_its_msg_id(zns: ZnsServer) -> None:
    result = zalo_channel(zns).send(alert())

    assert result.outcome == Outcome.DELIVERED
    [request] = zns.sent
    assert request["phone"] == "84912345678"
    assert request["tracking_id"] == "alert-42.officer-7.1"
    assert request["template_data"]["risk"] == "đạo ôn mức 3"
    assert result.provider_id and len(result.provider_id) == 32
    assert "daily quota left 499" in result.detail


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ({"error": -108, "message": "Phone number invalid"}, Outcome.PERMANENT),
        ({"error": -100, "message": "Unknown error"}, Outcome.TRANSIENT),
        ({"error": -118, "message": "Zalo account not existed"}, Outcome.PERMANENT),
        (503, Outcome.TRANSIENT),
    ],
)
def test_zns_errors_are_retried_only_where_zalo_says_retry(
    zns: ZnsServer, answer: dict[str, object] | int, outcome: Outcome
) -> None:
    zns.answers.append(answer)

    result = zalo_channel(zns).send(alert())

    assert result.outcome == outcome
    assert result.retry_after_s is None


def test_zns_quota_used_up_is_retried_after_the_vietnamese_midnight(zns: ZnsServer) -> None:
    zns.answers.append({"error": -115, "message": "Out of quota"})
    evening = datetime(2025, 6, 1, 20, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).timestamp()

    result = zalo_channel(zns, clock=lambda: evening).send(alert())

    assert result.outcome == Outcome.TRANSIENT
    assert result.retry_after_s == 3.5 * 3600 + 60


def test_an_invalid_access_token_is_permanent_and_logged_loudly(
    zns: ZnsServer, caplog: pytest.LogCaptureFixture
) -> None:
    result = zalo_channel(zns, token="expired-token").send(alert())

    assert result.outcome == Outcome.PERMANENT and "-124" in result.detail
    assert any(
        r.levelno == logging.ERROR and "access token" in r.getMessage() for r in caplog.records
    )
    assert "expired-token" not in caplog.text and zns.sent == []


def test_zns_records_a_repeated_tracking_id_twice(zns: ZnsServer) -> None:
    """Zalo documents tracking_id for reconciliation, not dedupe: a resend is a second message,
    which is why the outbox, not the provider, has to make Zalo exactly-once."""
    channel = zalo_channel(zns)

    results = [channel.send(alert()), channel.send(alert())]

    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 2
    assert zns.tracking_ids == ["alert-42.officer-7.1"] * 2 and len(zns.sent) == 2


@pytest.mark.parametrize("phone", [None, "+33612345678", "+8491234"])
def test_zns_needs_a_vietnamese_mobile(zns: ZnsServer, phone: str | None) -> None:
    assert zalo_channel(zns).send(alert(phone=phone)).outcome == Outcome.PERMANENT
    assert zns.tracking_ids == []


# --- SMS (eSMS) ------------------------------------------------------------------------------


@pytest.fixture
def esms() -> Iterator[EsmsServer]:
    server = EsmsServer(ESMS_KEY, ESMS_SECRET, {"RUONG"})
    server.start()
    yield server
    server.stop()


def sms_channel(esms: EsmsServer, **kw: object) -> SmsChannel:
    options: dict[str, object] = {"brandname": "RUONG", "timeout_s": 5}
    options.update(kw)
    return SmsChannel(esms.url, ESMS_KEY, ESMS_SECRET, **options)  # type: ignore[arg-type]


SHORT = alert(body="Tưới nước ngay cho ruộng Đồng Nội trước 17:00 hôm nay.", ack_url=None)


def test_a_resend_with_the_same_key_is_delivered_and_charged_once(esms: EsmsServer) -> None:
    channel = sms_channel(esms)

    first, second = channel.send(SHORT), channel.send(SHORT)

    assert (first.outcome, second.outcome) == (Outcome.DELIVERED, Outcome.DELIVERED)
    assert first.provider_id and "124" in second.detail
    assert len(esms.requests) == 2 and len(esms.sent) == 1
    [sms] = esms.sent
    assert sms["RequestId"] == "alert-42.officer-7.1" and sms["Phone"] == "0912345678"
    assert (sms["SmsType"], sms["Brandname"]) == ("2", "RUONG")


def test_diacritics_are_stripped_when_configured(esms: EsmsServer) -> None:
    sms_channel(esms).send(alert(body="Tưới nước ngay", ack_url=None))
    sms_channel(esms, unicode=True).send(alert(key="k2", body="Tưới nước ngay", ack_url=None))

    plain, accented = esms.sent
    assert (plain["Content"], plain["IsUnicode"]) == ("Tuoi nuoc ngay", "0")
    assert (accented["Content"], accented["IsUnicode"]) == ("Tưới nước ngay", "1")


def test_too_long_is_permanent_before_any_request(esms: EsmsServer) -> None:
    long_body = "Tưới nước ngay cho ruộng Đồng Nội. " * 6  # 210 characters: 2 GSM-7 SMS

    result = sms_channel(esms).send(alert(body=long_body, ack_url=None))

    assert result.outcome == Outcome.PERMANENT and "too long" in result.detail
    assert esms.requests == []
    assert sms_channel(esms, max_segments=2).send(alert(body=long_body)).outcome == (
        Outcome.DELIVERED
    )


def test_the_ack_link_goes_along_only_when_it_fits(esms: EsmsServer) -> None:
    sms_channel(esms).send(alert(key="short", body="Tuoi nuoc ngay."))
    sms_channel(esms).send(alert(key="long", body="x" * 150))

    short, long = esms.sent
    assert short["Content"] == f"Tuoi nuoc ngay. {ACK}"
    assert long["Content"] == "x" * 150


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("103", Outcome.PERMANENT),  # balance too low
        ("104", Outcome.PERMANENT),  # brandname not registered
        ("99", Outcome.PERMANENT),  # number blocked
        ("177", Outcome.PERMANENT),  # brandname not registered with the person's network
        ("150", Outcome.TRANSIENT),  # undocumented: retried, the RequestId makes that safe
    ],
)
def test_esms_codes_map_onto_outcomes(esms: EsmsServer, code: str, outcome: Outcome) -> None:
    esms.answers.append(code)
    assert sms_channel(esms).send(SHORT).outcome == outcome


def test_wrong_keys_are_permanent_and_logged(
    esms: EsmsServer, caplog: pytest.LogCaptureFixture
) -> None:
    channel = SmsChannel(esms.url, ESMS_KEY, "not-the-secret", "RUONG")

    result = channel.send(SHORT)

    assert result.outcome == Outcome.PERMANENT and "101" in result.detail
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    assert "not-the-secret" not in caplog.text


def test_esms_unreachable_is_transient() -> None:
    channel = SmsChannel(f"http://127.0.0.1:{free_port()}", ESMS_KEY, ESMS_SECRET, "RUONG")
    assert channel.send(SHORT).outcome == Outcome.TRANSIENT


def test_a_long_key_becomes_a_stable_request_id_of_at_most_50() -> None:
    key = "alert-" + "f" * 80
    assert request_id(key) == request_id(key) and len(request_id(key)) == 50
    assert request_id("alert-42.officer-7.1") == "alert-42.officer-7.1"


# GSM 03.38 default alphabet by code 0x00-0x7F (3GPP TS 23.038 table 6.2.1), 0x1B the escape
GSM_TABLE = (
    [0x40, 0xA3, 0x24, 0xA5, 0xE8, 0xE9, 0xF9, 0xEC, 0xF2, 0xC7, 0x0A, 0xD8, 0xF8, 0x0D]
    + [0xC5, 0xE5, 0x394, 0x5F, 0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398]
    + [0x39E, 0x1B, 0xC6, 0xE6, 0xDF, 0xC9, 0x20, 0x21, 0x22, 0x23, 0xA4]
    + list(range(0x25, 0x40))
    + [0xA1]
    + list(range(0x41, 0x5B))
    + [0xC4, 0xD6, 0xD1, 0xDC, 0xA7, 0xBF]
    + list(range(0x61, 0x7B))
    + [0xE4, 0xF6, 0xF1, 0xFC, 0xE0]
)


def test_the_gsm7_alphabet_is_gsm_03_38() -> None:
    assert len(GSM_TABLE) == 128
    assert GSM7_BASIC == "".join(map(chr, GSM_TABLE))
    printable = "".join(chr(c) for c in GSM_TABLE if c != 0x1B)
    assert segments(printable) == ("gsm7", 1)  # 127 characters, one septet each


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("gsm7", 1)),
        ("a" * 160, ("gsm7", 1)),
        ("a" * 161, ("gsm7", 2)),
        ("a" * 306, ("gsm7", 2)),
        ("a" * 307, ("gsm7", 3)),
        ("€" * 80, ("gsm7", 1)),  # the extension table: two septets each
        ("€" * 81, ("gsm7", 2)),
        ("a" * 152 + "[" + "a" * 8, ("gsm7", 2)),  # an escape pair is not split across parts
        ("a" * 152 + "[" + "a" * 152, ("gsm7", 3)),
        ("é" * 160, ("gsm7", 1)),  # é is in the alphabet, ê is not
        ("ê", ("ucs2", 1)),
        ("`", ("ucs2", 1)),  # ASCII, but not GSM-7
        ("ư" * 70, ("ucs2", 1)),
        ("ư" * 71, ("ucs2", 2)),
        ("ư" * 134, ("ucs2", 2)),
        ("ư" * 135, ("ucs2", 3)),
        ("🌾" * 35, ("ucs2", 1)),  # beyond the BMP: a surrogate pair each
        ("🌾" * 36, ("ucs2", 2)),
    ],
)
def test_segments(text: str, expected: tuple[str, int]) -> None:
    assert segments(text) == expected


def test_strip_diacritics_covers_the_vietnamese_letters() -> None:
    assert strip_diacritics("Tưới nước ngay") == "Tuoi nuoc ngay"
    assert strip_diacritics("ăâđêôơư ĂÂĐÊÔƠƯ") == "aadeoou AADEOOU"
    assert strip_diacritics("àảãáạ ằẳẵắặ ầẩẫấậ ềểễếệ ồổỗốộ ờởỡớợ ừửữứự ỳỷỹýỵ") == (
        "aaaaa aaaaa aaaaa eeeee ooooo ooooo uuuuu yyyyy"
    )
    assert segments(strip_diacritics(BODY))[0] == "gsm7"


# --- every channel ---------------------------------------------------------------------------


def test_every_channel_is_a_channel(tmp_path: Path, ca_file: str) -> None:
    channels = [
        EmailChannel("smtp://127.0.0.1", "canhbao@example.vn"),
        WebhookChannel("https://example.vn/hook", WEBHOOK_SECRET),
        ZaloChannel("https://business.openapi.zalo.me", ZALO_TOKEN, TEMPLATE_ID),
        SmsChannel("https://rest.esms.vn", ESMS_KEY, ESMS_SECRET, "RUONG"),
    ]
    for channel in channels:
        assert isinstance(channel, Channel)
        assert all(secret not in repr(channel) for secret in SECRETS)
        channel.close()


def test_the_memory_inbox_keeps_a_resend_once() -> None:
    inbox = MemoryInbox()
    results = [inbox.deliver("officer-7", alert()), inbox.deliver("officer-7", alert())]

    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 2
    assert len(inbox.messages["officer-7"]) == 1


def test_a_delivery_refuses_a_missing_key_or_a_bad_level() -> None:
    with pytest.raises(ValueError):
        alert(key="")
    with pytest.raises(ValueError):
        alert(level=4)
