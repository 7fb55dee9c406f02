"""Email delivery: SMTP (plain, STARTTLS or implicit TLS, with login) or, without a server, ``.eml`` files.

Each message is multipart/alternative (text, then HTML), UTF-8, with the Message-ID the dispatcher gives
(the same on every attempt). Failures are results: a server that cannot be reached or answers 4xx is a
temporary failure (retried later), a 5xx refusal of the recipient or the data is permanent.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from .ports import OutgoingEmail, SendResult

SECURITY = ("starttls", "ssl", "none")


def build_mime(email: OutgoingEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = email.sender
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message["Date"] = format_datetime(email.date)
    message["Message-ID"] = email.message_id
    for name, value in email.headers:
        message[name] = value
    message.set_content(email.text, charset="utf-8")
    message.add_alternative(email.html, subtype="html", charset="utf-8")
    return message


class SmtpMailer:
    name = "smtp"

    def __init__(self, host: str, port: int, *, security: str = "starttls", username: str | None = None,
                 password: str | None = None, timeout: float = 30.0, ca_file: str | None = None) -> None:
        if security not in SECURITY:
            raise ValueError(f"SMTP security {security!r}: use one of {', '.join(SECURITY)}")
        self.host, self.port, self.security = host, port, security
        self._username, self._password, self._timeout = username, password, timeout
        self._ca_file = ca_file  # the CA bundle to verify with (default: the system's); always verified

    def __repr__(self) -> str:  # never the password
        return f"SmtpMailer({self.host}:{self.port}, {self.security}, user={self._username!r})"

    def send(self, email: OutgoingEmail) -> SendResult:
        try:
            with self._connect() as smtp:
                if self.security == "starttls":
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                if self._username:
                    smtp.login(self._username, self._password or "")
                refused = smtp.send_message(build_mime(email))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return SendResult(False, f"recipient refused: {_describe(exc.recipients)}",
                              permanent=all(code >= 500 for code in codes), status_code=codes[0] if codes else None)
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            permanent = exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError)
            return SendResult(False, f"SMTP {exc.smtp_code}: {text}", permanent=permanent, status_code=exc.smtp_code)
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult(False, f"{type(exc).__name__}: {exc} ({self.host}:{self.port})")
        if refused:
            return SendResult(False, f"recipient refused: {_describe(refused)}", permanent=True)
        return SendResult(True, status_code=250)

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self._ca_file)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self._timeout, context=self._tls())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self._timeout)
        smtp.ehlo()
        return smtp


def _describe(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{who}: {code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"
                     for who, (code, text) in refused.items())


class FileMailer:
    """The offline default: each message becomes ``<directory>/<date>/<message id>.eml``. Writing the same
    message again replaces the file, so a repeat never makes a second one."""

    name = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, email: OutgoingEmail) -> SendResult:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", email.message_id.strip("<>"))
        folder = self.directory / email.date.strftime("%Y-%m-%d")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".{name}.tmp"
            temporary.write_bytes(bytes(build_mime(email)))
            os.replace(temporary, folder / f"{name}.eml")
        except OSError as exc:
            return SendResult(False, f"cannot write to {folder}: {exc.strerror}")
        return SendResult(True)


__all__ = ["SECURITY", "FileMailer", "SmtpMailer", "build_mime"]
