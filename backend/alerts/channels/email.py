"""Email over SMTP: `[channels.email] url` and `from` (issue 14, "Channels").

`smtp://user:pass@host:587` submits with STARTTLS when the server offers it (RFC 3207) and
refuses to log in where it does not (a password is never sent in the clear); `smtps://host:465`
speaks TLS from the first byte (RFC 8314). The server's certificate is verified against the
system's CAs or `ca_file`. One connection per message: alerts are rare and a long-lived SMTP
session only dies in a new way.

The message is UTF-8 throughout: the subject and the display names as RFC 2047 encoded words,
the body quoted-printable, so "Cảnh báo: bệnh đạo ôn" survives any relay. The Message-ID is
derived from the idempotency key, so a resend after a crash is recognisably the same message
(mail clients and list servers thread or drop it). The acknowledgement link ends the body.

SMTP replies map onto the outcomes by their class (RFC 5321, 4.2.1): 4xx (451 local error,
452 mailbox full, 421 closing) is transient, 5xx (550 mailbox unavailable, 553 bad address,
535 authentication failed) permanent; a refused or timed-out connection is transient; a
certificate that does not verify, or a server that will not do TLS, is permanent for this
channel and logged as an error: the operator has something to fix.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from backend.alerts.channels.base import Delivery, SendResult
from backend.config import parse_url

log = logging.getLogger(__name__)

PORTS = {"smtp": 587, "smtps": 465}  # RFC 6409 submission, RFC 8314 submissions
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def message_id(idempotency_key: str, domain: str) -> str:
    """The Message-ID (RFC 5322, 3.6.4) of the message with this key: the key itself where it
    is a dot-atom of reasonable length, else its SHA-256; the same key, the same id."""
    token = idempotency_key
    if len(token) > 64 or not _DOT_ATOM.fullmatch(token):
        token = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{token}.ruong@{domain}>"


def _permanent(code: int) -> bool:
    """A 5xx reply: the same transaction would be refused again. Anything else a server can
    answer at the point of failure (4xx, or a malformed reply) may pass on a retry."""
    return 500 <= code < 600


class EmailChannel:
    """SMTP submission of one message per `send`.

    url: `smtp://[user:pass@]host[:587]` or `smtps://[user:pass@]host[:465]`.
    sender: the From header, e.g. `Ruộng <canhbao@example.vn>`.
    ca_file: PEM CA certificates the server's certificate is verified with; None: the system's.
    timeout_s: per socket operation, seconds.
    """

    name = "email"

    def __init__(
        self,
        url: str,
        sender: str,
        ca_file: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        endpoint = parse_url(url, "channels.email.url", PORTS)
        self._host = endpoint.host
        self._port = endpoint.port
        self._implicit_tls = endpoint.scheme == "smtps"
        self._username = endpoint.username
        self._password = endpoint.password
        display, addr = parseaddr(sender)
        if "@" not in addr:
            raise ValueError(f"channels.email.from: {sender!r} has no address")
        self._from = Address(display_name=display, addr_spec=addr)
        self._tls = ssl.create_default_context(cafile=ca_file)
        self._timeout_s = timeout_s

    @property
    def where(self) -> str:
        """host:port, for logs (the URL carries the password)."""
        return f"{self._host}:{self._port}"

    def build(self, delivery: Delivery) -> EmailMessage:
        """The message `send` submits (pure: no I/O)."""
        msg = EmailMessage()
        msg["From"] = self._from
        msg["To"] = Address(display_name=delivery.name, addr_spec=delivery.email or "")
        msg["Subject"] = delivery.subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = message_id(delivery.idempotency_key, self._from.domain)
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to alerts
        body = delivery.body
        if delivery.ack_url and delivery.ack_url not in body:
            body = f"{body.rstrip()}\n\n{delivery.ack_url}\n"
        msg.set_content(body, charset="utf-8", cte="quoted-printable")
        return msg

    def send(self, delivery: Delivery) -> SendResult:
        if not delivery.email:
            return SendResult.permanent("no address: the person has no email")
        try:
            msg = self.build(delivery)
        except (ValueError, IndexError) as exc:  # the headerregistry's verdict on the address
            return SendResult.permanent(f"invalid address {delivery.email!r}: {exc}")
        try:
            self._submit(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return self._refused(code, text, "recipient refused")
        except smtplib.SMTPAuthenticationError as exc:
            if exc.smtp_code >= 500:
                log.error("email: %s refused the login (%s)", self.where, exc.smtp_code)
            return self._refused(exc.smtp_code, exc.smtp_error, "login refused")
        except smtplib.SMTPResponseException as exc:  # sender refused, DATA refused, ...
            return self._refused(exc.smtp_code, exc.smtp_error, "refused")
        except (_NoTLS, smtplib.SMTPNotSupportedError) as exc:  # no TLS, no AUTH
            log.error("email: %s: %s", self.where, exc)
            return SendResult.permanent(str(exc))
        except ssl.SSLCertVerificationError as exc:
            log.error("email: %s: certificate not trusted (%s)", self.where, exc.verify_message)
            return SendResult.permanent(f"certificate not trusted: {exc.verify_message}")
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout, TLS error
            return SendResult.transient(f"{self.where} unreachable: {exc!r}")
        return SendResult.delivered(msg["Message-ID"], f"accepted by {self.where}")

    def _refused(self, code: int, text: bytes | str, what: str) -> SendResult:
        reply = text.decode(errors="replace") if isinstance(text, bytes) else text
        detail = f"{what}: {code} {reply}"
        if _permanent(code):
            return SendResult.permanent(detail)
        return SendResult.transient(detail)

    def _submit(self, msg: EmailMessage) -> None:
        smtp: smtplib.SMTP
        if self._implicit_tls:
            smtp = smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout_s, context=self._tls
            )
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout_s)
        try:
            smtp.ehlo()
            if not self._implicit_tls:
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=self._tls)
                    smtp.ehlo()
                elif self._username:
                    raise _NoTLS("server offers no STARTTLS: not sending the password in clear")
            if self._username:
                smtp.login(self._username, self._password or "")
            smtp.send_message(msg)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):  # the message's fate was settled before
                smtp.close()

    def close(self) -> None:
        """Nothing held between messages."""


class _NoTLS(Exception):
    """A server that would have us log in without TLS."""
