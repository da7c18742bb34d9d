"""Local servers that speak the delivery providers' documented contracts, for the channel tests.

Each listens on a free loopback port in a thread of the test process and records what it
accepted, so a test counts at the receiver, not in the sender:

- `SmtpServer`: aiosmtpd with STARTTLS required (or implicit TLS) and AUTH, certificates from a
  `trustme` CA; recipients can be set to be refused with a given SMTP reply.
- `WebhookReceiver`: verifies `X-Ruong-Signature` from the scheme's description (its own code,
  not the channel's), with a timestamp tolerance; answers can be queued.
- `ZnsServer`: `POST /message/template` as Zalo documents it: `access_token` header, the JSON
  shape, the phone format, every tracking_id recorded (Zalo does not dedupe on it); error
  answers can be queued.
- `EsmsServer`: `SendMultipleMessage_V4_post_json` as eSMS documents it: keys, brandname,
  SmsType, phone, RequestId (<= 50 characters; one seen before is answered 124 and not sent).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import re
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from email.message import EmailMessage, Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from ruong.services import free_port

Answer = tuple[int, Mapping[str, str], bytes]


class JsonHttpServer:
    """A threaded HTTP server on 127.0.0.1 whose subclasses answer in `answer`."""

    def __init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, headers, payload = outer.answer(self.path, self.headers, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # not on the test's stderr

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, headers: Message, body: bytes) -> Answer:
        raise NotImplementedError


def json_answer(document: object, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(document).encode()


class WebhookReceiver(JsonHttpServer):
    """A receiver that verifies the signature and keeps what it accepted.

    `accepted`: the verified JSON documents; `rejected`: why the others were refused (401).
    `answers`: (status, headers) to answer the next verified requests with instead of 204.
    """

    def __init__(
        self, secret: str, tolerance_s: float = 300, clock: Callable[[], float] = time.time
    ):
        super().__init__()
        self.secret = secret.encode()
        self.tolerance_s = tolerance_s
        self.clock = clock
        self.accepted: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self.answers: deque[tuple[int, dict[str, str]]] = deque()

    def verify(self, headers: Message, body: bytes) -> str | None:
        """Why this request is not authentic, or None."""
        header = headers.get("X-Ruong-Signature")
        if header is None:
            return "no signature"
        parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
        if not parts.get("t", "").isdigit() or "v1" not in parts:
            return "malformed signature"
        if abs(self.clock() - int(parts["t"])) > self.tolerance_s:
            return "timestamp outside tolerance"
        expected = hmac.new(self.secret, parts["t"].encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), parts["v1"]):
            return "signature mismatch"
        return None

    def answer(self, path: str, headers: Message, body: bytes) -> Answer:
        with self.lock:
            reason = self.verify(headers, body)
            document = json.loads(body) if reason is None else None
            if document is not None and headers.get("Idempotency-Key") != document.get(
                "idempotency_key"
            ):
                reason = "Idempotency-Key header differs from the body's"
            if reason is not None:
                self.rejected.append(reason)
                return 401, {}, reason.encode()
            if self.answers:
                status, extra = self.answers.popleft()
                return status, extra, b""
            assert document is not None
            self.accepted.append(document)
            return 204, {}, b""


ZNS_PHONE = re.compile(r"84\d{9}")  # Zalo's normalised form (it also takes 0xxxxxxxxx)


class ZnsServer(JsonHttpServer):
    """Zalo ZNS `POST /message/template` for one OA token and its approved templates.

    `tracking_ids`: every tracking_id of a well-formed request, in order (duplicates kept);
    `sent`: the requests answered with success; `answers`: JSON answers (or an int HTTP status)
    for the next well-formed requests.
    """

    def __init__(self, access_token: str, templates: Mapping[str, set[str]]):
        super().__init__()
        self.access_token = access_token
        self.templates = templates  # template_id -> its parameter names
        self.tracking_ids: list[str] = []
        self.sent: list[dict[str, Any]] = []
        self.answers: deque[dict[str, Any] | int] = deque()
        self.quota = 500

    def answer(self, path: str, headers: Message, body: bytes) -> Answer:
        if path != "/message/template":
            return json_answer({"error": -106, "message": "Method unsupported"}, 404)
        if headers.get("access_token") != self.access_token:
            return json_answer({"error": -124, "message": "Access token is invalid"})
        try:
            request = json.loads(body)
        except ValueError:
            return json_answer({"error": -122, "message": "Body format invalid"})
        if set(request) != {"phone", "template_id", "template_data", "tracking_id"}:
            return json_answer({"error": -122, "message": "Body format invalid"})
        params = self.templates.get(request["template_id"])
        if params is None:
            return json_answer({"error": -109, "message": "Template ID invalid"})
        data = request["template_data"]
        if not isinstance(data, dict) or set(data) != params:
            return json_answer({"error": -112, "message": "Template data invalid"})
        if not isinstance(request["phone"], str) or not ZNS_PHONE.fullmatch(request["phone"]):
            return json_answer({"error": -108, "message": "Phone number invalid"})
        with self.lock:
            self.tracking_ids.append(request["tracking_id"])
            if self.answers:
                queued = self.answers.popleft()
                if isinstance(queued, int):
                    return queued, {}, b"upstream trouble"
                return json_answer(queued)
            self.sent.append(request)
            self.quota -= 1
            return json_answer(
                {
                    "error": 0,
                    "message": "Success",
                    "data": {
                        "msg_id": uuid.uuid4().hex,
                        "sent_time": str(int(time.time() * 1000)),
                        "quota": {"dailyQuota": "500", "remainingQuota": str(self.quota)},
                    },
                }
            )


ESMS_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
ESMS_PHONE = re.compile(r"0\d{9}")


class EsmsServer(JsonHttpServer):
    """eSMS's customer-care send for one account and its registered brandnames.

    `requests`: every request body; `sent`: the messages accepted (charged) once each;
    `answers`: CodeResult strings for the next well-formed requests.
    """

    def __init__(self, api_key: str, secret_key: str, brandnames: set[str]):
        super().__init__()
        self.keys = (api_key, secret_key)
        self.brandnames = brandnames
        self.requests: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.answers: deque[str] = deque()

    def answer(self, path: str, headers: Message, body: bytes) -> Answer:
        if path != ESMS_PATH:
            return 404, {}, b"Endpoint not found."
        request = json.loads(body)
        with self.lock:
            self.requests.append(request)
            if (request.get("ApiKey"), request.get("SecretKey")) != self.keys:
                return self._code("101", ErrorMessage="Authorize Failed")
            if request.get("SmsType") != "2":
                return self._code("118")
            if request.get("Brandname") not in self.brandnames:
                return self._code("104")
            if not ESMS_PHONE.fullmatch(str(request.get("Phone"))):
                return self._code("108")
            if request.get("IsUnicode") not in ("0", "1") or not request.get("Content"):
                return self._code("99", ErrorMessage="invalid request")
            request_id = request.get("RequestId", "")
            if len(request_id) > 50:
                return self._code("99", ErrorMessage="RequestId longer than 50")
            if self.answers:
                return self._code(self.answers.popleft())
            if request_id and any(m.get("RequestId") == request_id for m in self.sent):
                return self._code("124")
            self.sent.append(request)
            return self._code("100", SMSID=uuid.uuid4().hex)

    @staticmethod
    def _code(code: str, **fields: str) -> Answer:
        return json_answer({"CodeResult": code, "CountRegenerate": 0, **fields})


class Mailbox:
    """The aiosmtpd handler: keeps the messages, refuses the recipients in `refuse`."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # as received, to check the encoding on the wire
        self.refuse: dict[str, str] = {}  # address -> SMTP reply

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, rcpt_options: list
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.raw.append(raw)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on a free port with TLS (STARTTLS required, or implicit) and AUTH for one
    account; `ca_file` is the CA its certificate is issued by."""

    def __init__(
        self, ca: trustme.CA, ca_file: str, user: str, password: str, implicit_tls: bool = False
    ) -> None:
        self.mailbox = Mailbox()
        self.ca_file = ca_file
        self.port = free_port()
        self.user, self.password = user, password
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(tls)
        options: dict[str, Any] = {
            "authenticator": self._authenticate,
            "auth_required": True,
        }
        if implicit_tls:
            # aiosmtpd counts only STARTTLS as TLS for AUTH; the whole session is TLS here
            options.update(ssl_context=tls, auth_require_tls=False)
        else:
            options.update(tls_context=tls, require_starttls=True)
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **options)

    def url(
        self, user: str | None = None, password: str | None = None, scheme: str = "smtp"
    ) -> str:
        return f"{scheme}://{user or self.user}:{password or self.password}@127.0.0.1:{self.port}"

    def _authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data == (
            self.user.encode(),
            self.password.encode(),
        )
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235 or 535

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
