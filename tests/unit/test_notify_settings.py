"""Email and webhook settings from the environment; the SMTP password never shows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from aboguard import bootstrap
from aboguard.config import Settings
from aboguard.errors import InvalidInput
from aboguard.notify.email import FileMailer, SmtpMailer


def test_smtp_settings_are_read_and_the_password_stays_secret(tmp_path: Path) -> None:
    settings = Settings.from_env({"ABOGUARD_DATA_DIR": str(tmp_path), "ABOGUARD_SMTP_HOST": "mail.example.de",
                                  "ABOGUARD_SMTP_SECURITY": "ssl", "ABOGUARD_SMTP_USER": "shop",
                                  "ABOGUARD_SMTP_PASSWORD": "hunter2-geheim", "ABOGUARD_MERCHANT_FOOTER":
                                  "Amtsgericht Köln HRB 1 | Geschäftsführer: A. B."})
    config = settings.notify
    assert (config.smtp_host, config.smtp_port, config.smtp_security, config.smtp_user) == (
        "mail.example.de", 465, "ssl", "shop")
    assert config.smtp_password is not None and config.smtp_password.reveal() == "hunter2-geheim"
    assert "hunter2" not in repr(settings) and "hunter2" not in repr(config.smtp_password)
    assert config.legal_footer == "Amtsgericht Köln HRB 1\nGeschäftsführer: A. B."
    mailer = bootstrap.mailer_for(settings)
    assert isinstance(mailer, SmtpMailer) and "hunter2" not in repr(mailer)


def test_without_smtp_messages_become_files_in_the_data_directory(tmp_path: Path) -> None:
    mailer = bootstrap.mailer_for(Settings.from_env({"ABOGUARD_DATA_DIR": str(tmp_path)}))
    assert isinstance(mailer, FileMailer) and mailer.directory == tmp_path / "outbox"


def test_the_portal_key_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings.from_env({"ABOGUARD_DATA_DIR": str(tmp_path)})
    notifier = bootstrap.notifier_for(settings, bootstrap.billing_settings(settings))
    token = notifier.portal().issue_token("cus-1", "pay_invoice", datetime(2030, 1, 1, tzinfo=UTC))
    key = tmp_path / "portal.key"
    assert key.stat().st_mode & 0o777 == 0o600
    again = bootstrap.notifier_for(settings, bootstrap.billing_settings(settings))
    assert again.portal().verify_token(token, now=datetime(2029, 1, 1, tzinfo=UTC)).customer_id == "cus-1"


@pytest.mark.parametrize(("env", "message"), [
    ({"ABOGUARD_SMTP_SECURITY": "tls13"}, "must be starttls, ssl or none"),
    ({"ABOGUARD_SMTP_PORT": "70000"}, "ABOGUARD_SMTP_PORT='70000' must be a whole number from 1 to 65535"),
    ({"ABOGUARD_PORTAL_SECRET": "short"}, "at least 16 characters"),
    ({"ABOGUARD_MERCHANT_LOCALE": "fr"}, "must be de or en"),
    ({"ABOGUARD_TEMPLATES_DIR": "/no/such/dir"}, "is not a directory"),
    ({"ABOGUARD_SEPA_PRENOTICE_DAYS": "0"}, "from 1 to 60"),
])
def test_bad_settings_say_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Settings.from_env(env)
