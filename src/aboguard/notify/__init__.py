"""Customer communication adapters and their ports.

``ports`` (what services see: the mailer, the renderer, the webhook sender, settings) and ``signing``
(Standard Webhooks secrets and signatures, stdlib only) may be imported by services; ``email`` (SMTP and
the ``.eml`` file outbox), ``templates`` (Jinja2 + babel) and ``webhooks_out`` (httpx) are adapters, wired
by :mod:`aboguard.bootstrap` only.
"""
