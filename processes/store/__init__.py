"""Storage: the tables (models), the database and its transactions (db), the audit trail (audit)."""
