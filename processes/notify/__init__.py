"""Notifications: the outbox written in a step's transaction, the mailer that delivers it, the templates."""
