"""The business counter's server side (業者向けリモート窓口, docs/business.md).

``invitations`` keeps the invitations and decides every redeem (pure over its SQLite tables, on an
injected clock), ``mailer`` sends the link and the second-factor code by SMTP in a worker thread,
``routes`` is the HTTP surface (``setup_business``) and ``pages`` serves the browser client at ``/b/``.

This module imports nothing: ``signaling_server.auth`` uses ``invitations`` to sign a business in, and
``routes`` needs the app's keys, which need ``auth``.
"""
